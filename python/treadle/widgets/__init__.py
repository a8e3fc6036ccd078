"""Inline notebook widgets, views only: live progress, the task graph, the trace (Gantt chart).

    treadle.show(futures_or_tasks)    # the task graph, coloured live while it runs
    treadle.show_trace()              # what ran where and when, with a replay scrubber

Each is one MIME bundle (text/html with a static inline SVG that the inline script enhances,
image/svg+xml, text/plain); nothing comes from the network (docs/widgets.md). The widgets are
handed what they draw and how to publish it: displaying them and following a run live is the
notebook's (treadle.notebook.displays, the progress monitor).
"""

from .gantt import TraceView, trace_view
from .graph import GraphView, LiveGraph, graph_view
from .progress import Progress
from .task_graph import TaskGraph, collect

__all__ = ["GraphView", "LiveGraph", "Progress", "TaskGraph", "TraceView", "collect", "graph_view", "trace_view"]
