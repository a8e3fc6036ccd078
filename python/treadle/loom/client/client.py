"""The HyperLoom client: submits plans and collects results."""

import os
import socket

from ... import _engine, client_hooks, task_clients
from ... import story as _story
from ...output import TaskOutputPrinter
from . import plan as _plan
from .errors import LoomException, TaskFailed
from .future import Future
from .task import Task


def _resolve(host):
    return "127.0.0.1" if host == "localhost" else host


class Client:
    """A connection to a treadle server, as HyperLoom's ``Client(address, port)``.

    ``secret`` defaults to $TREADLE_SECRET, $TREADLE_SECRET_FILE or the per-user secret file.
    Inside a task, ``Client()`` connects to the cluster the task runs on (with its secret), and
    the client is closed when the task ends.
    What tasks print is shown while the client waits, each line marked with its task;
    ``output`` replaces that with a callable taking (task, label, stream, bytes) tuples,
    or None to drop it. A server silent for ``server_timeout`` seconds counts as lost; this
    process's own pauses (stopped, or the machine asleep) do not count.
    """

    def __init__(self, address=None, port=None, secret=None, timeout=10.0, output="print",
                 server_timeout=12.0):
        own = task_clients.server_address()  # inside a task: its cluster
        if address is None and port is None and own is not None:
            address, port = own
        address = "localhost" if address is None else address
        port = 9010 if port is None else port
        secret = secret or task_clients.secret()
        name = "{}:{}".format(socket.gethostname(), os.getpid())
        try:
            self._conn = _engine.Connection(_resolve(address), int(port), secret or "", name, float(timeout),
                                            float(server_timeout))
        except _engine.ServerError as e:
            raise LoomException(str(e)) from None
        self.address = (address, int(port))
        self.last_plan = None   # (first task id, count) of the last plan submitted
        self._printer = TaskOutputPrinter() if output == "print" else None
        handler = self._printer if output == "print" else output
        if handler is not None:
            self._conn.set_output_handler(handler)
        task_clients.adopt(self)
        if client_hooks.listeners:
            client_hooks.client_created(self)

    @property
    def _live(self):
        """The connection; LoomException once the client is closed."""
        if self._conn is None:
            raise LoomException("the client is closed")
        return self._conn

    # -- submitting ------------------------------------------------------------------------

    def submit(self, tasks):
        """Submits tasks (and every task they need); returns a list of futures, one per task."""
        tasks = list(tasks)
        result = [None] * len(tasks)
        new = []
        for i, t in enumerate(tasks):
            if isinstance(t, Task):
                new.append(i)
            elif isinstance(t, Future):
                # As HyperLoom: a future is submitted already; it may be an input of new tasks.
                raise TypeError("{!r} is not a task: it was submitted already (use it as an input of "
                                "a task, or wait/fetch it)".format(t))
            else:
                raise TypeError("{!r} is not a task: submit() takes tasks".format(t))
        if new:
            roots = [tasks[i] for i in new]
            try:
                types, labels, frames, order, checkpoints = _plan.encode(roots, self)
            except _plan.PlanError as e:
                raise LoomException(str(e)) from None
            try:
                base = self._live.submit(types, labels, *frames, checkpoints)
            except _engine.ServerError as e:
                raise LoomException(str(e)) from None
            self.last_plan = (base, len(order))   # its task ids: a range
            keep = memoryview(frames[-1]).cast("I")
            for i, local in zip(new, keep):
                result[i] = Future(self, base + local)
            if client_hooks.listeners:
                client_hooks.plan_submitted(self, client_hooks.SentPlan(base, len(order), types, labels, frames, order),
                                            tasks, result)
        return result

    def submit_one(self, task):
        """Submits one task; returns its future."""
        return self.submit((task,))[0]

    # -- collective operations -----------------------------------------------------------------

    def _ids(self, futures):
        ids = []
        for f in futures:
            if not isinstance(f, Future) or f.client is not self:
                raise LoomException("{!r} is not a future of this client".format(f))
            if f._released:
                raise LoomException("{!r} was released".format(f))
            ids.append(f.task_id)
        return ids

    def _call(self, method, ids):
        try:
            return method(ids)
        except _engine.ServerError as e:
            raise LoomException(str(e)) from None

    def wait(self, futures):
        """Blocks until every future is computed; raises TaskFailed if one failed."""
        __tracebackhide__ = True
        futures = list(futures)
        ids = self._ids(futures)
        with task_clients.blocking():
            failure = self._call(self._live.wait, ids)
        if failure is not None:
            raise TaskFailed.from_failure(failure)
        for f in futures:
            f._finished = True

    def fetch(self, futures):
        """Downloads the results (they stay on the workers): bytes, or lists for arrays."""
        __tracebackhide__ = True
        futures = list(futures)
        ids = self._ids(futures)
        with task_clients.blocking():
            values, failure = self._call(self._live.fetch, ids)
        if failure is not None:
            raise TaskFailed.from_failure(failure)
        for f in futures:
            f._finished = True
        return values

    def release(self, futures):
        """Frees the results on the workers; the futures cannot be used afterwards."""
        ids = []
        for f in futures:
            if isinstance(f, Future) and f.client is self and not f._released:
                f._released = True
                ids.append(f.task_id)
        if ids and self._conn is not None:
            self._conn.release(ids)

    def gather(self, futures):
        """fetch() followed by release()."""
        __tracebackhide__ = True
        futures = list(futures)
        try:
            return self.fetch(futures)
        finally:
            self.release(futures)

    # -- the rest --------------------------------------------------------------------------------

    def set_trace(self, path):
        """Records everything that runs from now on into the directory ``path`` (as HyperLoom):
        ``python3 -m treadle.report path`` makes a report of it. The path is the server's."""
        self._call(lambda _: self._conn.trace(0, str(path)), None)

    def trace(self, limit=100000):
        """The server's recent trace events (see treadle.trace)."""
        return self._call(lambda _: self._conn.trace(limit), None)

    def states(self, futures):
        """The scheduler state of each future (or task id), in order: "waiting", "ready",
        "assigned", "running", "redirected", "finished", "failed", "released", or "unknown"."""
        ids = [f.task_id if isinstance(f, Future) else int(f) for f in futures]
        return self._call(self._live.states, ids)

    def story(self, futures):
        """Why is this task here? The recent transitions of a future (or task id, or a list of
        them) with times, workers and reasons, and why a waiting one is not running now. Prints
        as text; ``.records`` are the TaskStory records (treadle.story)."""
        one = isinstance(futures, (Future, int))
        ids = [f.task_id if isinstance(f, Future) else int(f) for f in ([futures] if one else futures)]
        return _story.Story(self._call(lambda ids: _story.story(self._live, ids), ids))

    def status(self):
        """The server's view: workers, task counts by state, memory."""
        return self._call(lambda _: self._live.status(), None)

    def close(self):
        if self._conn is not None:
            self._conn.poll_output()
            if self._printer is not None:
                self._printer.flush_partial()
            self._conn.close()
            self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<treadle.loom.client.Client {}:{}>".format(*self.address)
