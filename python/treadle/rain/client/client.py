"""Rain's Client: a connection to the server and the sessions made through it."""

import contextlib
import weakref

from ...core import embedded_server, hooks
from ...core.client import ClientBase
from ...core.errors import LoomException
from ...core.local_traceback import raised_as_local
from ...runtime import task_clients
from ..common import ID, RainException
from .session import Session

_clients = weakref.WeakSet()   # the live Clients of this process (%treadle status counts their sessions)


class _Core(ClientBase):
    api = "rain"

    def wait(self, handles):
        __tracebackhide__ = True
        handles = list(handles)
        with raised_as_local, self.waiting_on(handles):
            super().wait(handles)

    def fetch(self, handles):
        __tracebackhide__ = True
        handles = list(handles)
        with raised_as_local, self.waiting_on(handles):
            return super().fetch(handles)

    def waiting_on(self, handles):
        """Listeners hear of a wait (a notebook shows a progress line when it lasts)."""
        pending = [h for h in handles if not h.known_finished()] if hooks.listeners else None
        return hooks.waiting(self, pending) if pending else contextlib.nullcontext()


class Client:
    """``Client(host, port)``: Rain's connection to a treadle server (with neither: inside a task
    its cluster, in the treadle kernel the kernel's server, else localhost:7210). Its sessions share the
    connection; it hears from the server which of their tasks ended (``watch``/``settled``)."""

    def __init__(self, host=None, port=None):
        if host is None and port is None:
            # Inside a task: its cluster; in the treadle kernel: the kernel's server.
            host, port = task_clients.server_address() or embedded_server.embedded_address() or (None, None)
        try:
            self.core = _Core("localhost" if host is None else host, 7210 if port is None else port,
                              secret=task_clients.secret())
        except LoomException as error:   # no server there: Rain's own exception, with the cause
            raise RainException(str(error)) from error
        self._sessions = []     # weak references, oldest first
        self._made = 0          # sessions made, which numbers them
        self._watched = {}      # task id -> Rain task not yet seen ended
        _clients.add(self)

    @property
    def address(self):
        return self.core.address

    def new_session(self, name=None, default=False):
        self._made += 1
        session = Session(self, name, default, self._made)
        self._sessions = [r for r in self._sessions if r() is not None] + [weakref.ref(session)]
        return session

    def sessions(self):
        """The sessions made through this client that are still referenced, oldest first."""
        return [s for s in (r() for r in self._sessions) if s is not None]

    def get_server_info(self):
        """The server's governors (workers), as Rain's: ``governor_id`` (host:port of its data
        address), ``resources`` ({"cpus": n}), ``tasks`` (the IDs of the tasks placed there
        now: running, or queued for a cpu or their inputs), ``objects`` (the IDs of the data
        objects it holds) and ``objects_to_delete`` (always empty: treadle frees at once).
        An ID is (session id, id) for this client's sessions, (0, id) for other clients' work;
        the functions @remote sends with its calls are not listed."""
        try:
            status = self.core.connection.status(ids=True)
        except LoomException as error:
            raise RainException(str(error)) from None
        owners, hidden = {}, set()
        for session in self.sessions():
            owners.update(dict.fromkeys(session.submitted_ids(), session.session_id))
            hidden.update(session.shared_value_ids())
        mask = (1 << 40) - 1

        def rain_ids(ids):
            return [ID(owners.get(i & mask, 0), i) for i in ids if i & mask not in hidden]
        return {"governors": [{"governor_id": _host_port(w["address"]),
                               "resources": {"cpus": w["cpus"]},
                               "cpus": w["cpus"],
                               "tasks": rain_ids(w.get("task_ids", ())),
                               "objects": rain_ids(w.get("object_ids", ())),
                               "objects_to_delete": []}
                              for w in status["workers"]]}

    # -- what the sessions share -----------------------------------------------------------

    def watch(self, tasks):
        """Asks the server to say when each of these submitted tasks ends (each ``settled``
        costs both sides: a session watches the tasks that nothing of their submit reads)."""
        for task in tasks:
            self._watched[task.task_id] = task
        self.core.connection.watch([t.task_id for t in tasks])

    def watch_late(self, tasks):
        """Watches tasks submitted earlier and not watched. The server says nothing of a task
        that holds nothing (an output nobody kept that ended and was released, or an inner
        task of its plan), so their states are asked after the watch: those that ended are
        marked; returns the unfinished ones that hold nothing, whose states are to be asked
        until they end (``ask_states``)."""
        tasks = [t for t in tasks if t.task_id not in self._watched]
        if not tasks:
            return []
        held = [t for t in tasks if t.held]
        if held:
            self.watch(held)
        self.ask_states(tasks)
        return [t for t in tasks if t.state == "submitted" and not t.held]

    def ask_states(self, tasks):
        """Marks the tasks the server says ended (finished, or finished and freed; failed);
        returns those it says were cancelled (they never will end: an inner task of a plan
        whose readers a cancel stopped has no handle to say so)."""
        try:
            states = self.core.connection.states([t.task_id for t in tasks])
        except LoomException as error:
            raise RainException(str(error)) from None
        cancelled = []
        for task, state in zip(tasks, states):
            if state == "cancelled" and task.state == "submitted":
                cancelled.append(task)
            if state in ("finished", "released"):
                self._watched.pop(task.task_id, None)
                task.mark_finished()
            elif state == "failed" and task.state == "submitted":
                self._watched.pop(task.task_id, None)
                task.state = "failed"
        return cancelled

    def watching(self, task):
        return task.task_id in self._watched

    def unwatch(self, task_ids):
        for task_id in task_ids:
            self._watched.pop(task_id, None)

    def poll_settled(self, timeout=0.0):
        """Marks the tasks the server says ended (waits up to ``timeout`` s for news): finished,
        failed, or cancelled (``cancelled_by_server``: they never end); returns their ids."""
        try:
            finished, failed, cancelled = self.core.connection.settled(timeout)
        except LoomException as error:
            raise RainException(str(error)) from None
        for task_id in cancelled:
            task = self._watched.pop(task_id, None)
            if task is not None and task.state == "submitted":
                task.cancelled_by_server = True
        for task_id in finished:
            task = self._watched.pop(task_id, None)
            if task is not None:
                task.mark_finished()
        for task_id in failed:
            task = self._watched.pop(task_id, None)
            if task is not None:
                task.state = "failed"
        return list(finished) + list(failed) + list(cancelled)

    def close(self):
        self.core.close()


def clients():
    """The live Clients of this process."""
    return [c for c in list(_clients) if not c.core.closed]


def _host_port(address):
    return address[len("tcp://"):] if address.startswith("tcp://") else address
