"""Rain's Client: a connection to the server and the sessions made through it."""

from ...core.client import ClientBase
from .session import Session


class _Core(ClientBase):
    api = "rain"


class Client:
    """``Client(host, port)``: Rain's connection to a treadle server."""

    def __init__(self, host="localhost", port=7210):
        self.core = _Core(host, port)

    def new_session(self, name=None, default=False):
        return Session(self, name, default)

    def get_server_info(self):
        status = self.core.status()
        return {"governors": [{"governor_id": w["name"], "cpus": w["cpus"]}
                              for w in status["workers"]]}

    def close(self):
        self.core.close()
