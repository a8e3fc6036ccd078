"""Rain's Client: a connection to the server and the sessions made through it."""

from ...core.client import ClientBase
from ...core.errors import LoomException
from ..common import RainException
from .session import Session


class _Core(ClientBase):
    api = "rain"


class Client:
    """``Client(host, port)``: Rain's connection to a treadle server. Its sessions share the
    connection; it hears from the server which of their tasks ended (``watch``/``settled``)."""

    def __init__(self, host="localhost", port=7210):
        self.core = _Core(host, port)
        self._sessions = 0
        self._watched = {}   # task id -> Rain task not yet seen ended

    def new_session(self, name=None, default=False):
        self._sessions += 1
        return Session(self, name, default, self._sessions)

    def get_server_info(self):
        """The server's governors (workers), as Rain's: ``governor_id`` (host:port), ``resources``
        ({"cpus": n}), ``tasks`` (how many run or wait there now) and ``objects`` (how many data
        objects it holds, as of its last heartbeat)."""
        try:
            status = self.core.status()
        except LoomException as error:
            raise RainException(str(error)) from None
        return {"governors": [{"governor_id": _host_port(w["address"]),
                               "resources": {"cpus": w["cpus"]},
                               "cpus": w["cpus"],
                               "tasks": w["running"] + w["queued"],
                               "objects": w.get("objects", 0)}
                              for w in status["workers"]]}

    # -- what the sessions share -----------------------------------------------------------

    def watch(self, tasks):
        """Asks the server to say when each of these submitted tasks ends."""
        for task in tasks:
            self._watched[task.task_id] = task
        self.core.connection.watch([t.task_id for t in tasks])

    def unwatch(self, tasks_by_id):
        for task_id in tasks_by_id:
            self._watched.pop(task_id, None)

    def poll_settled(self, timeout=0.0):
        """Marks the tasks the server says ended (waits up to ``timeout`` s for news); returns
        their ids."""
        try:
            finished, failed = self.core.connection.settled(timeout)
        except LoomException as error:
            raise RainException(str(error)) from None
        for task_id in finished:
            task = self._watched.pop(task_id, None)
            if task is not None and task.state == "submitted":
                task.state = "finished"
        for task_id in failed:
            task = self._watched.pop(task_id, None)
            if task is not None:
                task.state = "failed"
        return list(finished) + list(failed)

    def close(self):
        self.core.close()


def _host_port(address):
    return address[len("tcp://"):] if address.startswith("tcp://") else address
