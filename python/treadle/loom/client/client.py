"""The HyperLoom client: submits plans and collects results."""

from ...core import embedded_server
from ...core.client import ClientBase
from ...core.local_traceback import raised_as_local
from ...runtime import task_clients
from .future import Future


class Client(ClientBase):
    """A connection to a treadle server, as HyperLoom's ``Client(address, port)``.

    ``secret`` defaults to $TREADLE_SECRET, $TREADLE_SECRET_FILE or the per-user secret file.
    Inside a task, ``Client()`` connects to the cluster the task runs on (with its secret), and
    the client is closed when the task ends; in the treadle kernel, to the kernel's server; else
    to localhost:9010, HyperLoom's default.
    What tasks print is shown while the client waits, each line marked with its task;
    ``output`` replaces that with a callable taking (task, label, stream, bytes) tuples,
    or None to drop it. ``timeout``: seconds to wait for a server that is not up yet (default
    $TREADLE_CONNECT_TIMEOUT, else 10; a line on stderr after the first second; Ctrl-C stops).
    A server whose connection closed and that stays silent for ``server_timeout`` seconds counts
    as lost (one silent with its connection open is busy or stopped: waits go on, saying so);
    this process's own pauses (stopped, or the machine asleep) do not count.
    """

    handle_type = Future

    def __init__(self, address=None, port=None, secret=None, timeout=None, output="print",
                 server_timeout=12.0):
        if address is None and port is None:
            # Inside a task: its cluster; in the treadle kernel: the kernel's server.
            own = task_clients.server_address() or embedded_server.embedded_address()
            if own is not None:
                address, port = own
        address = "localhost" if address is None else address
        port = 9010 if port is None else port
        super().__init__(address, port, secret=secret or task_clients.secret(), timeout=timeout, output=output,
                         server_timeout=server_timeout)
        task_clients.adopt(self)

    def blocking(self):
        """Inside a task, a wait gives the task's cpu back (task_clients)."""
        return task_clients.blocking()

    def submit_one(self, task):
        """Submits one task; returns its future."""
        return self.submit((task,))[0]

    def gather(self, futures):
        """fetch() followed by release(). As HyperLoom's: when a task failed, fetch raises
        and nothing is released, so the other futures' results stay readable; an interrupted
        one releases nothing either: the futures stay, to be cancelled by the interrupt's
        handler or gathered again."""
        __tracebackhide__ = True
        futures = list(futures)
        with raised_as_local:   # a task's failure: the caller's frames, then the task's
            values = self.fetch(futures)
        self.release(futures)
        return values

    def __repr__(self):
        return "<treadle.loom.client.Client {}:{}>".format(*self.address)
