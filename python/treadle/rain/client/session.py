"""Rain's sessions: the graph built since the last submit, what was submitted, and which objects
the client keeps. ``with session:`` makes it the active one (a stack); ``default=True`` makes
it the one used when none is active."""

from ...core.errors import LoomException, TaskFailed
from ..common import RainException, TaskException

_active = []            # sessions of open with-blocks, innermost last
_default = [None]


def active_session():
    if _active:
        return _active[-1]
    if _default[0] is not None and not _default[0].closed:
        return _default[0]
    raise RainException("no active session: use 'with client.new_session() as session:' or new_session(default=True)")


class Session:
    """A group of tasks and objects submitted to the server and freed together."""

    def __init__(self, client, name=None, default=False):
        self.client = client
        self.name = name
        self.closed = False
        self.error = None       # the exception that failed the session: every later call raises it
        self._new = []          # tasks created since the last submit
        self._submitted = []    # tasks submitted and not yet released
        self.plans = []         # (first task id, count) of each plan submitted: what the widgets draw
        if default:
            _default[0] = self

    # -- the graph ---------------------------------------------------------------------------

    def add_task(self, task):
        self._check()
        self._new.append(task)

    def unsubmitted(self):
        """The tasks created since the last submit."""
        return list(self._new)

    def submit(self):
        """Sends the tasks created since the last submit."""
        self._check()
        new, self._new = self._new, []
        if not new:
            return
        try:
            handles = self.client.core.submit([t.core for t in new])
        except LoomException as error:
            self._fail(RainException(str(error)))
        self.plans.append(self.client.core.last_plan)
        for task, handle in zip(new, handles):
            task.submitted(handle)
        self._submitted.extend(new)

    def wait_all(self):
        """Waits for every submitted task; objects nobody kept are freed then."""
        self._check()
        self._wait([t for t in self._submitted])
        self.client.core.release([h for task in self._submitted for h in task.unkept_handles()])   # one message

    def wait(self, tasks):
        self._check()
        self._wait(tasks)

    def _wait(self, tasks):
        handles = [t.handle for t in tasks if t.handle is not None]
        try:
            self.client.core.wait(handles)
        except TaskFailed as error:
            self._fail(TaskException(str(error)))

    def fetch(self, data_object):
        self._check()
        try:
            return self.client.core.fetch([data_object.handle])[0]
        except TaskFailed as error:
            self._fail(TaskException(str(error)))
        except LoomException as error:
            raise RainException(str(error)) from None

    def unkeep(self, data_object):
        if not self.closed and data_object.handle is not None:
            self.client.core.release([data_object.handle])

    # -- failure and closing -----------------------------------------------------------------

    def _fail(self, error):
        """A failure fails this session only: every later call on it raises the same error."""
        self.error = error
        raise error

    def _check(self):
        if self.closed:
            raise RainException("session {!r} is closed".format(self.name))
        if self.error is not None:
            raise self.error

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.client.core.release([t.handle for t in self._submitted if t.handle is not None])   # one message
        self._submitted = []
        if _default[0] is self:
            _default[0] = None

    def __enter__(self):
        _active.append(self)
        return self

    def __exit__(self, *exc):
        _active.remove(self)
        self.close()

    def __repr__(self):
        return "<Session {!r}>".format(self.name)
