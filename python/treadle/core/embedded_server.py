"""The server a notebook kernel embeds, named once for every API's default client."""

_address_of = []   # a callable giving the server's (host, port), starting workers first if none


def set_embedded_server(address_of):
    """A notebook kernel that runs a server (treadle.notebook) names it here: ``address_of()``
    gives its (host, port), starting workers first if none are connected; None forgets it."""
    _address_of[:] = [address_of] if address_of is not None else []


def embedded_address():
    """(host, port) of the server of the kernel this process is, or None."""
    return _address_of[0]() if _address_of else None
