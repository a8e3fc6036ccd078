"""Inline notebook widgets: live progress, the task graph, the trace (Gantt chart).

    treadle.show(futures_or_tasks)    # the task graph, coloured live while it runs
    treadle.show_trace()              # what ran where and when, with a replay scrubber

Each is one MIME bundle (text/html with a static inline SVG that the inline script enhances,
image/svg+xml, text/plain); nothing comes from the network (docs/widgets.md).
"""

from .gantt import TraceView, show_trace, trace_view
from .graph import GraphView, TaskGraph, collect, graph_view, show
from .progress import Progress, ProgressMonitor

__all__ = ["GraphView", "Progress", "ProgressMonitor", "TaskGraph", "TraceView", "collect", "graph_view", "show",
           "show_trace", "trace_view"]
