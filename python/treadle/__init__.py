"""treadle: distributed task graphs from Jupyter notebooks and scripts.

One engine, several front doors: the native API below (``@treadle.task``, ``submit``,
``map``, ``as_completed``, ``gather``); ``treadle.loom.client`` speaks HyperLoom's client
API; ``treadle.local_cluster`` starts a server and workers on this machine; ``treadle.show``
and ``treadle.show_trace`` draw task graphs and traces in notebooks (treadle.widgets).
"""

from .api import (Client, TaskFunction, as_completed, default_client, gather, map, set_default_client, shutdown,
                  submit, task, wait)
from .task_clients import rejoin, secede
from .cluster import LocalCluster, local_cluster
from .future import Future, TaskError
from .magics import load_ipython_extension, unload_ipython_extension  # noqa: F401 (%load_ext treadle)

__version__ = "0.1.0"
__all__ = ["Client", "Future", "LocalCluster", "TaskError", "TaskFunction", "as_completed", "default_client",
           "gather", "local_cluster", "map", "rejoin", "secede", "set_default_client", "show", "show_trace", "shutdown",
           "submit", "task", "wait", "__version__"]


def show(obj, expand=None, aggregate=None, live=True):
    """Displays the task graph of futures or tasks (lists and dicts of them, a %%treadle submit
    handle) in the notebook, coloured by label group and by state, live while it runs.
    ``expand="group"`` draws that label group task by task (treadle.widgets.graph)."""
    from .widgets import show as _show  # the widgets load on first use: executors import treadle too
    return _show(obj, expand=expand, aggregate=aggregate, live=live)


def show_trace(client=None, window=None):
    """Displays what ran where and when (the server's recent trace) as a Gantt chart with a
    replay scrubber (treadle.widgets.gantt)."""
    from .widgets import show_trace as _show_trace
    return _show_trace(client, window=window)
