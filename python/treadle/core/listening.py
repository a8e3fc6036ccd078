"""Whether anything listens at a server's address, asked before a client's ZeroMQ connection.

ZeroMQ takes a refused connection as "not yet" and keeps retrying, so with no server there
a client's hello would wait its whole timeout (10 s), in C++, deaf to Ctrl-C. A plain TCP
connect tells a refusal at once; a few tries over about a second cover a server that is
just starting. Anything else (a host that does not answer, a name that does not resolve)
is left to ZeroMQ and its own error."""

import socket
import time

from .errors import LoomException

TRIES = 5
PAUSE = 0.25    # seconds between tries (interruptible: a Python sleep)


def check(host, port):
    """Returns if something accepts TCP connections at (host, port); raises LoomException
    naming the address and the cause if every try is refused."""
    for attempt in range(TRIES):
        try:
            socket.create_connection((host, int(port)), timeout=1.0).close()
            return
        except ConnectionRefusedError as error:
            refused = error
        except OSError:
            return
        if attempt + 1 < TRIES:
            time.sleep(PAUSE)
    raise LoomException("no treadle server at {}:{}: the connection was refused ({} tries in {:.0f} s: {}); "
                        "is the server running there, on that port?".format(
                            host, port, TRIES, (TRIES - 1) * PAUSE, refused.strerror or refused))
