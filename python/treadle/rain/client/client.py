"""Rain's Client: a connection to the server and the sessions made through it."""

import contextlib
import weakref

from ...core import hooks
from ...core.client import ClientBase
from .session import Session

_clients = weakref.WeakSet()   # the live Clients of this process (%treadle status counts their sessions)


class _Core(ClientBase):
    api = "rain"

    def wait(self, handles):
        __tracebackhide__ = True
        handles = list(handles)
        with self._waiting(handles):
            super().wait(handles)

    def fetch(self, handles):
        __tracebackhide__ = True
        handles = list(handles)
        with self._waiting(handles):
            return super().fetch(handles)

    def _waiting(self, handles):
        """Listeners hear of a wait (a notebook shows a progress line when it lasts)."""
        pending = [h for h in handles if not h.known_finished()] if hooks.listeners else None
        return hooks.waiting(self, pending) if pending else contextlib.nullcontext()


class Client:
    """``Client(host, port)``: Rain's connection to a treadle server."""

    def __init__(self, host="localhost", port=7210):
        self.core = _Core(host, port)
        self._sessions = []     # weak references, oldest first
        _clients.add(self)

    @property
    def address(self):
        return self.core.address

    def new_session(self, name=None, default=False):
        session = Session(self, name, default)
        self._sessions = [r for r in self._sessions if r() is not None] + [weakref.ref(session)]
        return session

    def sessions(self):
        """The sessions made through this client that are still referenced, oldest first."""
        return [s for s in (r() for r in self._sessions) if s is not None]

    def get_server_info(self):
        status = self.core.status()
        return {"governors": [{"governor_id": w["name"], "cpus": w["cpus"]}
                              for w in status["workers"]]}

    def close(self):
        self.core.close()


def clients():
    """The live Clients of this process."""
    return [c for c in list(_clients) if not c.core.closed]
