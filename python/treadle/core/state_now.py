"""A task's state now, for what a future's repr says: the server's word, asked briefly.

A future whose task ended while its client was not asking still reads as the client last
heard ("submitted"); a repr asks the server instead (one ``states`` round trip, a few ms), but
never waits on a server that is gone: after ``TIMEOUT`` s without an answer it shows the last
word the server gave for that task and how long ago ("running (last heard 3 s ago)"), else what
the client knows, and says the server did not answer; the reprs of the next ``QUIET`` s do not
ask that connection again (a list of futures is shown at once, not one timeout each).
"""

import time
import weakref

from .task import TASK_MASK

TIMEOUT = 1.0          # seconds a repr waits for the server's answer at most
QUIET = 5.0            # seconds after an unanswered ask in which reprs do not ask again
UNREACHABLE = "server unreachable"

_silent_since = weakref.WeakKeyDictionary()   # core.connection.Connection -> time it did not answer


def ask(connection, task_id):
    """The server's state of ``task_id`` (the names of ``ClientBase.states``), or None when the
    connection is closed or lost, or the server does not answer within TIMEOUT (or did not, a
    moment ago)."""
    silent = _silent_since.get(connection)
    if silent is not None and time.monotonic() - silent < QUIET:
        return None
    if not connection.connected:
        return None
    try:
        return connection.states([task_id & TASK_MASK], timeout=TIMEOUT)[0]
    except Exception:   # no answer in time, the connection lost or closed meanwhile
        _silent_since[connection] = time.monotonic()
        return None


def word(connection, task_id, known, names, heard=None):
    """The repr's word for ``task_id``, and the server's word to keep: ``(word, heard)``.

    ``names`` maps the server's states to a layer's words (a state it lacks reads ``known``, what
    the client knows); ``heard`` is what an earlier call returned for this task (the caller keeps
    it with its future), shown with its age when the server does not answer now."""
    asked = ask(connection, task_id)
    if asked is not None:
        said = names.get(asked, known)
        return said, (said, time.monotonic())
    if heard is None:
        return "{}, {}".format(known, UNREACHABLE), None
    said, at = heard
    return "{} (last heard {} ago), {}".format(said, _age(time.monotonic() - at), UNREACHABLE), heard


def _age(seconds):
    if seconds < 1:
        return "{:.1f} s".format(seconds)
    if seconds < 120:
        return "{:.0f} s".format(seconds)
    if seconds < 7200:
        return "{:.0f} min".format(seconds / 60)
    return "{:.0f} h".format(seconds / 3600)
