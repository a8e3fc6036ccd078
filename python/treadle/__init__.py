"""treadle: distributed task graphs from Jupyter notebooks and scripts.

One engine, several front doors: ``treadle.loom.client`` speaks HyperLoom's client API;
``treadle.local_cluster`` starts a server and workers on this machine.
"""

from .cluster import LocalCluster, local_cluster

__version__ = "0.1.0"
__all__ = ["LocalCluster", "local_cluster", "__version__"]
