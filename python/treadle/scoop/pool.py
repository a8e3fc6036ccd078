"""The connection of SCOOP's API to the treadle cluster: one client per process (the root), and
one per running task inside workers (closed with the task, which releases what it submitted).

Every future is a Python call of ``task_entry.run`` on (the user's function, the constants
dict, the arguments): the function and the constants are each pickled and sent once, then
shared by the tasks that use them."""

import os
import pickle
import threading
import time

from ..core import address as _address
from ..core import embedded_server
from ..core.client import ClientBase
from ..core.errors import LoomException
from ..core.pickling import dumps
from ..core.task import PY_CALL, ResourceRequest, Task, shared_value
from ..runtime import task_clients
from ..runtime.task_runtime import Ref
from . import program, shared, task_entry

ARGUMENTS = 2   # Ref(0) is the function, Ref(1) the constants: inputs come after them


class NotRunningError(LoomException):
    """No cluster to run futures on (the program was not started by ``python3 -m treadle.scoop``)."""


def unpicklable(what, error):
    """SCOOP's message for what cannot travel, naming the object."""
    return pickle.PicklingError("This element could not be pickled: {!r} ({})".format(what, error))


class Pool(ClientBase):
    api = "scoop"

    def __init__(self, host, port, secret=None):
        super().__init__(host, port, secret=secret)
        task_clients.adopt(self)
        self.lock = threading.RLock()
        self._functions = {}     # id(fn) -> (fn, handle of its pickled value)
        self._constants = None   # (dict, handle) last sent
        self.settled = {}        # task id -> True (finished) / False (failed), as the server said
        self.watched = set()
        self.listeners = {}      # task id -> [Future] to tell when it settles (done callbacks)

    def blocking(self):
        return task_clients.blocking()

    # -- building tasks ------------------------------------------------------------------------

    def call(self, fn, args=(), kwargs=None, inputs=(), new=None):
        """The task running ``fn(*args, **kwargs)``; ``args`` may hold Ref(ARGUMENTS + i) for
        ``inputs[i]`` (tasks or handles). Values it needs sent are added to ``new``."""
        if not callable(fn):
            raise TypeError("futures run callables, not {}".format(type(fn).__name__))
        try:
            config = dumps(("native", (Ref(0), Ref(1)) + tuple(args), kwargs or {}))
        except Exception as error:
            raise unpicklable(args if not kwargs else (args, kwargs), error) from None
        refs = [self._value(task_entry.run, new), self._function(fn, new), self._current_constants(new)]
        return Task(PY_CALL, refs + list(inputs), config, label=getattr(fn, "__name__", "future"),
                    resource_request=ResourceRequest(1))

    def _value(self, obj, new, sent=None):
        known = self._functions.get(id(obj))
        if known is not None and known[0] is obj:
            return known[1]
        try:
            task = shared_value(obj if sent is None else sent)
        except Exception as error:
            raise unpicklable(obj, error) from None
        new.append((obj, task))
        self._functions[id(obj)] = (obj, task)   # the handle replaces it once sent
        return task

    def _function(self, fn, new):
        return self._value(fn, new, program.by_name(fn))

    def _current_constants(self, new):
        values = shared.constants()
        if self._constants is None or self._constants[0] is not values:
            task = shared_value(values)
            new.append((values, task))
            self._constants = (values, task)
        return self._constants[1]

    def send(self, roots, new):
        """Submits ``roots`` with the values they need; returns their handles."""
        with self.lock:
            handles = self.submit(list(roots) + [task for _, task in new])
            for (obj, task), handle in zip(new, handles[len(roots):]):
                if self._constants is not None and self._constants[1] is task:
                    self._constants = (obj, handle)
                else:
                    self._functions[id(obj)] = (obj, handle)
            return handles[:len(roots)]

    # -- what the server says ------------------------------------------------------------------------

    def watch(self, handles):
        new = [h.task_id for h in handles if h.task_id not in self.watched]
        if new:
            self.watched.update(new)
            self.connection.watch(new)

    def poll(self, timeout=0.0):
        """Takes the server's news of ended tasks (waiting up to ``timeout``), tells listeners."""
        finished, failed, _ = self.connection.settled(timeout)   # a cancel marked its futures already
        for ok, ids in ((True, finished), (False, failed)):
            for i in ids:
                self.settled[i] = ok
                for future in self.listeners.pop(i, ()):
                    future.settled_now()

    def is_settled(self, handle, look_hard=False):
        first_look = handle.task_id not in self.watched
        self.watch([handle])
        self.poll()
        if handle.task_id not in self.settled and (first_look or look_hard):
            # The answer to a watch of an ended task comes at the end of the server's turn.
            for _ in range(2):
                self.connection.status()
                self.poll()
                if handle.task_id in self.settled:
                    break
        return handle.task_id in self.settled

    def wait_settled(self, handles, count, timeout=None, until_failure=False):
        """Blocks until ``count`` of ``handles`` ended (or, ``until_failure``, one of them
        failed) or ``timeout`` passed; returns the ended."""
        self.watch(handles)
        deadline = None if timeout is None else time.monotonic() + timeout

        def enough(ended):
            return len(ended) >= count or until_failure and any(self.settled[h.task_id] is False for h in ended)
        self.poll()
        ended = [h for h in handles if h.task_id in self.settled]
        if enough(ended):
            return ended
        with self.blocking():   # inside a task: its cpu is free meanwhile
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self.poll(0.5 if left is None else min(0.5, left))
                ended = [h for h in handles if h.task_id in self.settled]
                if enough(ended):
                    break
        return ended


_process = {"pool": None}
_task = threading.local()   # .pool, .scope: the pool of the task running on this thread


def current():
    """The pool of this task (inside a worker) or of this process (the root)."""
    scope = task_clients.current()
    if scope is not None:
        if getattr(_task, "scope", None) is not scope or _task.pool.closed:
            host, port = task_clients.server_address()
            _task.pool, _task.scope = Pool(host, port, secret=task_clients.secret()), scope
        return _task.pool
    with _lock:
        pool = _process["pool"]
        if pool is None or pool.closed:
            # The launcher's cluster (TREADLE_ADDRESS), else the treadle kernel's own server, as
            # the native API's default client finds them.
            address = task_clients.server_address() or os.environ.get("TREADLE_ADDRESS") \
                or embedded_server.embedded_address()
            if not address:
                raise NotRunningError("SCOOP futures need a treadle cluster: start the program with "
                                      "'python3 -m treadle.scoop program.py', use them in the treadle kernel, "
                                      "or set TREADLE_ADDRESS=host:port")
            host, port = _address.parse(address)
            pool = _process["pool"] = Pool(host, port, secret=task_clients.secret() or os.environ.get("TREADLE_SECRET"))
        return pool


_lock = threading.Lock()


def close():
    """Closes this process's pool (the launcher does it when the program ends)."""
    with _lock:
        pool, _process["pool"] = _process["pool"], None
    if pool is not None:
        pool.close()
