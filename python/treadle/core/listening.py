"""Whether anything listens at a server's address, asked before a client's ZeroMQ connection.

ZeroMQ takes a refused connection as "not yet" and keeps retrying, in C++, deaf to Ctrl-C,
and tells nothing of why. A plain TCP connect tells a refusal at once, so the client tries
again itself, in Python (Ctrl-C ends it at once), until the server listens or the connect
timeout passes: a script that starts ``treadle-server &`` and a client together, or a batch
job whose server node is slower, connects once the server is up. Anything else (a host that
does not answer, a name that does not resolve) is left to ZeroMQ and its own error."""

import socket
import time

from .errors import LoomException

PAUSE = 0.1        # seconds between tries at first (a Python sleep: Ctrl-C ends it)
MAX_PAUSE = 0.5    # ... growing to this
NOTICE_AFTER = 1.0  # seconds of refusals before the wait is told (``notice``)


def check(host, port, deadline, notice=None):
    """Returns once something accepts TCP connections at (host, port), trying again while the
    connection is refused until ``deadline`` (time.monotonic()); then raises LoomException
    naming the address. ``notice(kind, seconds)`` hears "connecting" once, after a second."""
    start = time.monotonic()
    pause, tries, told = PAUSE, 0, notice is None
    while True:
        tries += 1
        try:
            socket.create_connection((host, int(port)), timeout=1.0).close()
            return
        except ConnectionRefusedError as error:
            refused = error
        except OSError:
            return
        now = time.monotonic()
        if now >= deadline:
            break
        if not told and now - start >= NOTICE_AFTER:
            told = True
            notice("connecting", now - start)
        time.sleep(min(pause, max(0.0, deadline - now)))
        pause = min(pause * 1.5, MAX_PAUSE)
    raise LoomException("no treadle server at {}:{}: the connection was refused for {:.0f} s ({} tries: {}); "
                        "is the server running there, on that port? (the client's timeout, or "
                        "$TREADLE_CONNECT_TIMEOUT, waits longer)".format(
                            host, port, time.monotonic() - start, tries, refused.strerror or refused))
