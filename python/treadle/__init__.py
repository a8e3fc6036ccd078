"""treadle: distributed task graphs from Jupyter notebooks and scripts.

One engine, several front doors: the native API below (``@treadle.task``, ``submit``,
``map``, ``as_completed``, ``gather``); ``treadle.loom.client`` speaks HyperLoom's client
API; ``treadle.local_cluster`` starts a server and workers on this machine; ``treadle.show``
and ``treadle.show_trace`` draw task graphs and traces in notebooks (treadle.widgets).
The layers of the package are drawn in docs/architecture.md.
"""

import importlib

__version__ = "0.1.0"

# The API loads on first use (PEP 562): every Python executor imports this package, and should
# be ready for its first task without the client side (jinja2, the engine module, the cluster).
_LAZY = {name: "api" for name in ("Client", "Future", "TaskError", "TaskFunction", "as_completed", "default_client",
                                  "gather", "map", "set_default_client", "shutdown", "submit", "task", "wait")}
_LAZY.update(LocalCluster="cluster", local_cluster="cluster", rejoin="runtime.task_clients",
             secede="runtime.task_clients", TaskCancelled="core.errors")


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError("module 'treadle' has no attribute {!r}".format(name))
    value = getattr(importlib.import_module("." + module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

__all__ = ["Client", "Future", "LocalCluster", "TaskCancelled", "TaskError", "TaskFunction", "as_completed",
           "default_client", "gather", "local_cluster", "map", "rejoin", "secede", "set_default_client", "show",
           "show_trace", "shutdown", "submit", "task", "wait", "__version__"]


# The notebook layer and the magics import IPython: they load on first use, since every
# executor imports this package too.

def show(obj, expand=None, aggregate=None, live=True):
    """Displays the task graph of futures or tasks (lists and dicts of them, a %%treadle submit
    handle) in the notebook, coloured by label group and by state, live while it runs.
    ``expand="group"`` draws that label group task by task (treadle.widgets.graph)."""
    from .notebook import displays  # deliberate: IPython loads on first use
    return displays.show(obj, expand=expand, aggregate=aggregate, live=live)


def show_trace(client=None, window=None, live=False):
    """Displays what ran where and when (the server's recent trace) as a Gantt chart with a
    replay scrubber (treadle.widgets.gantt); ``live=True``: the run going on, growing while it
    runs (in a kernel with treadle)."""
    from .notebook import displays  # deliberate: IPython loads on first use
    return displays.show_trace(client, window=window, live=live)


def load_ipython_extension(ipython):
    """``%load_ext treadle``: the %treadle magics and a treadle server for this kernel."""
    from . import magics  # deliberate: IPython loads on first use
    magics.load_ipython_extension(ipython)


def unload_ipython_extension(ipython):
    pass  # the server and workers stay until the kernel ends
