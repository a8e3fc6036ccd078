"""The compiled engine (``treadle._engine``, C++ through pybind11): this module is the only one
that imports it, so every other layer reaches the engine through treadle's own names."""

from .. import _engine

ServerError = _engine.ServerError
Server = _engine.Server
set_log_level = _engine.set_log_level
set_log_fd = _engine.set_log_fd
load_secret = _engine.load_secret
default_secret_path = _engine.default_secret_path
# How many connections their finalizer (the garbage collector) closed, on threads of their own.
closed_by_finalizer = _engine.closed_by_finalizer


def raw_connection(host, port, secret="", name="python", timeout=10.0, server_timeout=12.0, notice=None):
    """The engine's own connection object (core.connection.Connection wraps one per client);
    ``notice(kind, seconds)`` hears of long waits (core.connection.Notices)."""
    return _engine.Connection(host, int(port), secret or "", name, float(timeout), float(server_timeout), notice)
