"""Where an IPython client connects: the address given, or the default one (``client.
default_task_address``): inside a task the task's own cluster; the treadle kernel's own server
inside that kernel; the cluster of the innermost ``with treadle.local_cluster(...)`` block;
$TREADLE_ADDRESS; else the server of the running ``treadle-cluster``."""

import os

from .. import cluster as local_cluster
from ..core import address as _address
from ..core import embedded_server
from .errors import ConnectionError
from ..deploy.state import ClusterState
from ..runtime import task_clients


def default_task_address():
    """(host, port) of the default cluster; a clear error when there is none. Inside a task:
    the cluster the task runs on."""
    inside = task_clients.server_address()
    if inside is not None:
        return inside
    embedded = embedded_server.embedded_address()
    if embedded is not None:
        return tuple(embedded)
    entered = local_cluster.entered_address()
    if entered is not None:
        return tuple(entered)
    if os.environ.get("TREADLE_ADDRESS"):
        return _address.parse(os.environ["TREADLE_ADDRESS"])
    name = os.environ.get("TREADLE_CLUSTER", "default")
    try:
        state = ClusterState.load(name)
    except ValueError as error:
        raise ConnectionError("no default task address: {}".format(error)) from None
    if state is not None and state.server_address:
        return _address.parse(state.server_address)
    raise ConnectionError(
        "no default task address: this is not the treadle kernel (whose own server it would be), "
        "not inside a 'with treadle.local_cluster(workers=4):' block, $TREADLE_ADDRESS is not set, "
        "and no treadle-cluster is running (its state file {} does not exist; start one with "
        "'treadle-cluster start', or give the address: TaskClient(('host', port)))".format(ClusterState(name).path))


def resolve_address(address):
    """(host, port) of an address given as (ip, port), "host:port", or None for the default."""
    if address is None:
        return default_task_address()
    return _address.parse(address)
