"""What ``%%treadle submit`` does with Rain's tasks, data objects and sessions
(treadle.rain.client): each session submits what the cell built in it since its last submit,
the line follows those tasks (and the tasks named), and the wait is the session's own. The
names keep the Rain objects: fetch what was kept, as Rain does."""

from ..core.address import server_key
from ..core.client import Cancelled
from ..rain.client import DataObject, Session
from ..widgets.rain_parts import KINDS  # noqa: F401 (what %%treadle submit looks for, beside the core's)


class RainPart:
    """The Rain objects of one submission: ``submit()``, then ``follow()``, ``wait()``, ``cancel()``."""

    def __init__(self, objects):
        self.tasks = []          # the Rain tasks the line follows and the wait waits for
        self.sessions = []       # their sessions, in order
        self._named = []
        for x in objects:
            task = x.task if isinstance(x, DataObject) else x
            self._add_session(task if isinstance(task, Session) else task.session)
            if not isinstance(task, Session):
                self._named.append(task)

    def _add_session(self, session):
        if all(s is not session for s in self.sessions):
            self.sessions.append(session)

    def submit(self):
        """Each session sends what was built in it since its last submit (RainException: a
        session that failed or was closed)."""
        followed = {}
        for session in self.sessions:
            new = session.unsubmitted()
            session.submit()
            for t in new:
                followed[id(t)] = t
        for t in self._named:
            followed.setdefault(id(t), t)
        self.tasks = [t for t in followed.values() if t.handle is not None]

    def followed(self):
        """The tasks the progress line counts: not the constants (blob()), which are data to
        the user, not tasks (unless the cell sent only those)."""
        return [t for t in self.tasks if not t.constant] or self.tasks

    def follow(self):
        """{server: [(task id, handle)]}: what the progress line follows."""
        out = {}
        for t in self.followed():
            out.setdefault(server_key(t.session.client.address), []).append((t.handle.task_id, t.handle))
        return out

    def wait(self):
        """Waits for the tasks, session by session (a TaskException fails that session, as in Rain)."""
        for session in self.sessions:
            mine = [t for t in self.tasks if t.session is session]
            if mine:
                session.wait(mine)

    def cancel(self):
        cancelled = ended = failed = 0
        by_client = {}
        for t in self.tasks:
            by_client.setdefault(id(t.session.client), (t.session.client.core, []))[1].append(t.handle)
        for core, handles in by_client.values():
            report = core.cancel(handles)
            cancelled += report.cancelled
            ended += report.ended
            failed += report.failed
        return Cancelled(cancelled, ended, failed)
