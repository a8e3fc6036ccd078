"""A client's connection to a treadle server: the one object through which clients, the
progress monitor, the widgets and the magics talk to it (docs/protocol.md).

It owns the engine's connection (a socket served by an I/O thread, engine/client/). What tasks
print arrives on that thread and is handed out by ``poll_output()`` (and by every other call)
to the output handler; polling and closing take turns, so a poller on another thread and
``close()`` never meet. The engine's errors become LoomException.
"""

import os
import sys
import threading
import time
import weakref

from . import engine, listening
from .address import server_key
from .errors import LoomException

CONNECT_TIMEOUT = 10.0   # seconds, unless $TREADLE_CONNECT_TIMEOUT or the caller says otherwise


def connect_timeout(timeout=None):
    """The seconds a client waits for its server: ``timeout`` if given, else
    $TREADLE_CONNECT_TIMEOUT, else 10."""
    if timeout is not None:
        return float(timeout)
    value = os.environ.get("TREADLE_CONNECT_TIMEOUT", "")
    try:
        return float(value) if value.strip() else CONNECT_TIMEOUT
    except ValueError:
        raise LoomException("$TREADLE_CONNECT_TIMEOUT must be a number of seconds, not {!r}".format(value)) from None


_open_connections = weakref.WeakSet()


def server_stopped(address, why):
    """The server at ``address`` is being stopped by this program (a local_cluster closed): the
    connections to it fail their calls at once from now on, saying ``why``, rather than waiting
    to find it gone."""
    key = server_key(address)
    for connection in list(_open_connections):
        if server_key(connection.address) == key:
            connection.stopped = why


class Notices:
    """One line on stderr for each long wait on the server at ``address``: connecting past
    the first second (once per connection), a server silent past the server timeout with
    its connection open (it is alive, only busy or stopped: the wait goes on), and its answer
    after that."""

    def __init__(self, address, timeout):
        self.address = "{}:{}".format(*address)
        self.timeout = timeout
        self._connecting_told = False

    def __call__(self, kind, seconds):
        if kind == "connecting":
            if self._connecting_told:
                return
            self._connecting_told = True
            line = "waiting for the server at {} ... (up to {:g} s; Ctrl-C stops)".format(self.address, self.timeout)
        elif kind == "silent":
            line = ("the server at {} has not answered for {:.0f} s; its connection is open (busy, or stopped?), "
                    "so this waits on (Ctrl-C stops)".format(self.address, seconds))
        else:
            line = "the server at {} answered again, after {:.0f} s".format(self.address, seconds)
        try:
            print("treadle: " + line, file=sys.stderr, flush=True)
        except Exception:
            pass   # no stderr (a closed stream at exit): the wait goes on regardless


class Connection:
    """A connection to the server at (host, port); ``name`` shows in the server's log.

    ``timeout`` (default $TREADLE_CONNECT_TIMEOUT, else 10 s): how long to wait for the server,
    refused connections included (a server still starting), then LoomException naming the
    address and how far it got. The wait says so on stderr after a second and ends at Ctrl-C.
    ``server_timeout``: a server whose connection closed is lost after that much silence, at
    once if reconnecting is refused (a silent one whose connection is open is waited for).
    ``probe``: a check whether a server answers now (treadle-cluster status): a refused
    connection fails at once, and no wait is told."""

    def __init__(self, host, port, secret="", name="python", timeout=None, server_timeout=12.0, probe=False):
        timeout = connect_timeout(timeout)
        notices = None if probe else Notices((host, port), timeout)
        start = time.monotonic()
        # refused: tried again here, in Python (ZeroMQ would retry deaf to Ctrl-C, telling nothing)
        listening.check(host, port, start if probe else start + timeout, notices)
        left = max(timeout - (time.monotonic() - start), 1.0)
        try:
            self._raw = engine.raw_connection(host, port, secret, name, left, server_timeout, notices)
        except engine.ServerError as e:
            raise LoomException(str(e)) from None
        self.address = (host, int(port))
        self._lock = threading.Lock()
        self._closed = False
        self.stopped = None   # why its server is gone, if this program stopped it (server_stopped)
        _open_connections.add(self)

    @property
    def closed(self):
        return self._closed

    @property
    def close_linger_ms(self):
        """How long close() let unsent messages wait for the server (ms): 2000 while its connection
        was open, 0 once it had closed (a server gone takes nothing); -1 before close()."""
        return self._raw.close_linger_ms

    @property
    def server_instance(self):
        """The name of the server's run that welcomed this connection (another after a restart)."""
        return self._raw.server_instance

    @property
    def connected(self):
        """True while the server answers (False once closed)."""
        return not self._closed and self.stopped is None and self._raw.connected

    def _call(self, method, *args, **kwargs):
        if self._closed:
            raise LoomException("the client is closed")
        if self.stopped is not None:
            raise LoomException(self.stopped)
        try:
            return method(*args, **kwargs)
        except engine.ServerError as e:
            raise LoomException(self.stopped or str(e)) from None

    # -- plans and results

    def submit(self, plan):
        """Sends an EncodedPlan (core.plan); returns the id of its first task."""
        return self._call(self._raw.submit, plan.types, plan.labels, *plan.frames(), plan.checkpoints, plan.outputs)

    def wait(self, ids):
        """Blocks until the tasks ended; the failure (a dict) of one that failed, or None."""
        return self._call(self._raw.wait, ids)

    def fetch(self, ids):
        """(values, failure): the results of the tasks, or the failure of one."""
        return self._call(self._raw.fetch, ids)

    def release(self, ids, when_done=False):
        """Drops this client's hold on the tasks (nothing when closed). ``when_done``: a task
        that has not ended keeps its future until it finishes (a failed one keeps it). Releases
        go in batches: with the connection's next other message, or within 5 ms."""
        if not self._closed and ids:
            self._raw.release(ids, when_done)   # never raises: nothing to wait for

    def cancel(self, ids):
        """Releases those of ``ids`` whose tasks have not ended: {"cancelled": tasks the server
        cancelled, "ended": the ids it kept, their tasks had ended}."""
        return self._call(self._raw.cancel, ids)

    def watch(self, ids):
        """Asks to hear when these tasks end (``settled``)."""
        return self._call(self._raw.watch, ids)

    def settled(self, timeout=0.0):
        """(finished ids, failed ids, cancelled ids) heard since the last call, waiting up to
        ``timeout`` s (docs/protocol.md, ``settled``)."""
        return self._call(self._raw.settled, timeout)

    # -- what the server knows

    def states(self, ids, timeout=0.0):
        """The scheduler state of each task; ``timeout`` > 0: LoomException if the answer takes
        longer (seconds)."""
        return self._call(self._raw.states, ids, timeout)

    def status(self, ids=False):
        """The server's view; ``ids``: each worker's ``task_ids`` and ``object_ids`` too."""
        return self._call(self._raw.status, ids)

    def retire(self, worker_ids):
        """Workers (ids as in status) leave after handing the objects still needed to others;
        returns their names. They are gone from status once they stopped."""
        return self._call(self._raw.retire, [int(i) for i in worker_ids])

    def story(self, ids):
        """The server's record of each task (at most 1000 ids; core.story reads it)."""
        return self._call(self._raw.story, ids)

    def trace(self, limit=100000, kinds=None):
        """The server's recent trace events (docs/tracing.md)."""
        if kinds is None:
            return self._call(self._raw.trace, limit)
        return self._call(self._raw.trace, limit, kinds=list(kinds))

    def record_trace(self, path):
        """The server appends every event to PATH/server.trace.jsonl from now on ("" stops)."""
        return self._call(self._raw.trace, 0, str(path))

    # -- what tasks print

    def set_output_handler(self, handler):
        """``handler(items)`` gets what tasks print: (task, label, stream, bytes) tuples."""
        self._call(self._raw.set_output_handler, handler)

    def poll_output(self):
        """Hands what tasks printed so far to the output handler (safe beside close())."""
        with self._lock:
            if not self._closed:
                self._raw.poll_output()

    def close(self):
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._raw.close()
