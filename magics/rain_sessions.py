"""What ``%treadle status`` says of Rain's sessions: per Rain client of this kernel, its sessions
open and failed (treadle.rain.client)."""

from ..rain.client.client import clients
from .declare import plural


def session_counts(client):
    """(open, failed, closed) of a Rain client's sessions; a failed one counts as failed, open or not."""
    sessions = client.sessions()
    failed = sum(1 for s in sessions if s.error is not None)
    opened = sum(1 for s in sessions if not s.closed and s.error is None)
    closed = sum(1 for s in sessions if s.closed and s.error is None)
    return opened, failed, closed


def describe():
    """One line per Rain client of this kernel ("" for none)."""
    lines = []
    for client in clients():
        opened, failed, closed = session_counts(client)
        total = opened + failed + closed
        lines.append("Rain client {}:{}: {} session{} ({} open, {} failed, {} closed)".format(
            client.address[0], client.address[1], total, plural(total), opened, failed, closed))
    return "\n".join(lines)
