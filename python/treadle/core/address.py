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
        return host.strip("[]") or "127.0.0.1", _port(port, address)
    if isinstance(address, (str, bytes)) or not isinstance(address, (tuple, list)) or len(address) != 2:
        raise TypeError("give the server as 'host:port', (host, port) or a LocalCluster, not {!r}".format(address))
    host, port = address
    return str(host), _port(port, address)


def _port(port, address):
    try:
        number = int(port)
    except (TypeError, ValueError):
        number = -1
    if isinstance(port, bool) or not 0 <= number <= 65535:
        raise ValueError("the server's port must be a number from 0 to 65535, not {!r} (in {!r})".format(port, address))
    return number


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
