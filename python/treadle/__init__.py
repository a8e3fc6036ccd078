"""treadle: distributed task graphs from Jupyter notebooks and scripts.

One engine, several front doors: the native API below (``@treadle.task``, ``submit``,
``map``, ``as_completed``, ``gather``); ``treadle.loom.client`` speaks HyperLoom's client
API; ``treadle.local_cluster`` starts a server and workers on this machine.
"""

from .api import (Client, TaskFunction, as_completed, default_client, gather, map, set_default_client, shutdown,
                  submit, task, wait)
from .cluster import LocalCluster, local_cluster
from .future import Future, TaskError
from .magics import load_ipython_extension, unload_ipython_extension  # noqa: F401 (%load_ext treadle)

__version__ = "0.1.0"
__all__ = ["Client", "Future", "LocalCluster", "TaskError", "TaskFunction", "as_completed", "default_client",
           "gather", "local_cluster", "map", "set_default_client", "shutdown", "submit", "task", "wait",
           "__version__"]
