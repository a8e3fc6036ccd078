"""Clients inside a running task: they talk to the cluster the task runs on.

The worker tells each executor the server's address and the shared secret in the first message
on its request pipe (never through the environment, which task code and its programs can read);
the executor keeps them here, in memory. Inside a task:

- ``treadle.default_client()`` (and so ``treadle.submit``, ``map``, ``gather``...) is the task's
  own client, connected on first use to the task's server: no process is started;
- ``treadle.Client()`` and ``treadle.loom.client.Client()`` without an address connect there
  too, with the secret;
- every client made while the task runs is closed when it ends, which releases what it
  submitted (nothing outlives the task that made it);
- a wait on futures (``gather``, ``result``, ``wait``, ``as_completed``, the HyperLoom client's
  ``wait``/``fetch``/``gather``) gives the task's cpu back while it blocks (``seceded``).
"""

import contextlib
import threading
import weakref

from ..core import address as _address

_cluster = {"address": None, "secret": None, "secede": None, "rejoin": None, "executor": False}


class RunningTask:
    """The task running on one thread and its TaskScope, made when first asked for (a tiny task
    never asks). The executor holds its thread's (`running_task`) and sets it per task: plain
    attributes, as the way from one task to the next runs cold and each thread-local lookup
    there cost microseconds."""

    __slots__ = ("task_id", "scope")

    def __init__(self):
        self.task_id = None
        self.scope = None


class _ThreadTask(threading.local):
    """This thread's RunningTask, if a task ever ran on it. None by class default: every
    decorated call asks (``current()``), and a lookup that misses raises inside getattr (~1 us)."""

    running = None


_thread = _ThreadTask()


def running_task():
    """The calling thread's RunningTask (made on first use)."""
    running = _thread.running
    if running is None:
        running = _thread.running = RunningTask()
    return running


def become_executor():
    """This process runs tasks (the executor calls it first): decorated functions called by a
    task run as plain functions, no cluster is made from a worker."""
    _cluster["executor"] = True


def in_executor():
    return _cluster["executor"]


def configure(address, secret, secede=None, rejoin=None):
    """Called by the executor with what its worker told it: ``address`` "host:port"; ``secede``
    and ``rejoin`` (task id) give the task's cpu back and take it again."""
    _cluster.update(address=address, secret=secret, secede=secede, rejoin=rejoin)


def server_address():
    """(host, port) of the cluster this executor serves, or None outside executors. (Also in
    threads a task started: a client there talks to the task's cluster, though it is not
    closed with the task.)"""
    address = _cluster["address"]
    return None if address is None else _address.parse(address)


def secret():
    """The secret for clients made inside an executor, or None elsewhere."""
    return _cluster["secret"]


class TaskScope:
    """What one running task made: its default client and every other client it opened.
    (Made when the task first asks, current(): most tasks never do.)"""

    __slots__ = ("task_id", "default", "_clients", "seceded")

    def __init__(self, task_id):
        self.task_id = task_id
        self.default = None    # the native client of default_client(), made on first use
        self._clients = None   # a WeakSet of the HyperLoom clients opened while the task ran
        self.seceded = 0       # nesting depth of waits (and secede() calls)

    def adopt(self, loom_client):
        if self._clients is None:
            self._clients = weakref.WeakSet()
        self._clients.add(loom_client)

    def close(self):
        """Closes every client the task opened: the server releases what they submitted."""
        if self.default is not None:
            default, self.default = self.default, None
            _quietly(default.close)
        if self._clients is not None:
            for client in list(self._clients):
                _quietly(client.close)


def _quietly(fn):
    try:
        fn()
    except Exception:
        pass  # a client whose server went away is closed all the same


def current():
    """The TaskScope of the task running on this thread, or None outside tasks."""
    running = _thread.running
    if running is None:
        return None
    scope = running.scope
    if scope is None and running.task_id is not None:
        scope = running.scope = TaskScope(running.task_id)
    return scope


def enter(task_id):
    """A task starts on this thread; ``leave()`` when it ends, whatever happened."""
    running = running_task()
    running.task_id = task_id
    running.scope = None


def leave(running=None):
    """The task on this thread (``running``: its RunningTask) ended: the clients it made are
    closed."""
    if running is None:
        running = running_task()
    scope = running.scope
    running.task_id = running.scope = None
    if scope is not None:
        scope.close()


def adopt(loom_client):
    """A HyperLoom client was made (maybe inside a native client): closed with the task."""
    scope = current()
    if scope is not None:
        scope.adopt(loom_client)


@contextlib.contextmanager
def blocking():
    """Around a wait on futures: inside a task, its cpu is given back while it blocks, so the
    tasks it waits for can run even when every cpu holds such a waiting task. Nested waits
    secede once."""
    secede()
    try:
        yield
    finally:
        rejoin()


def secede():
    """Gives the running task's cpu back until ``rejoin()``, as Dask's ``secede``: for a task that
    waits on something other than futures (waits on futures do it by themselves). Does nothing
    outside a task."""
    scope = current()
    if scope is None or _cluster["secede"] is None:
        return
    scope.seceded += 1
    if scope.seceded == 1:
        _cluster["secede"](scope.task_id)


def rejoin():
    """Takes the task's cpu back after ``secede()`` (at once: it may share it for a while)."""
    scope = current()
    if scope is None or _cluster["rejoin"] is None or scope.seceded == 0:
        return
    scope.seceded -= 1
    if scope.seceded == 0:
        _cluster["rejoin"](scope.task_id)
