"""Server addresses: one rule for reading them and one for naming a server.

An address is "host:port", a (host, port) pair, or anything with an ``address`` attribute
(a LocalCluster, a client). A server listening on every address (0.0.0.0, ::) is reached on
loopback from this machine, and "localhost" is 127.0.0.1, so a server has one key however it
was named.
"""

import os

from .errors import LoomException

_WILDCARDS = ("", "*", "0.0.0.0")


def parse(address):
    """(host, port) of ``address``; ValueError if it is not one."""
    if hasattr(address, "address"):
        address = address.address
    if isinstance(address, str):
        host, sep, port = address.rpartition(":")
        if not sep:
            raise ValueError("give the server as 'host:port' or (host, port), not {!r}".format(address))
        return host.strip("[]") or "127.0.0.1", int(port)
    host, port = address
    return str(host), int(port)


def parse_given_or_environment(address):
    """(host, port) of ``address``, or of $TREADLE_ADDRESS when it is None."""
    if address is None:
        address = os.environ.get("TREADLE_ADDRESS")
        if not address:
            raise LoomException("no server address: give one, or set TREADLE_ADDRESS=host:port")
    return parse(address)


def connect_host(host):
    """The host to connect to for a server listening on ``host`` (loopback for the wildcards)."""
    if host in _WILDCARDS or host == "localhost":
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def server_key(address):
    """The one name of a server: (host to connect to, port)."""
    host, port = parse(address)
    return connect_host(host), port
