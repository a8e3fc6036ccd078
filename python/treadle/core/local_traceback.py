"""A task's failure raised where the caller waits, with a traceback that reads like local code:
the caller's frames, then the task's own (rebuilt from the worker's, core.remote_exception), and
none of treadle's in between (the API's ``result``, ``gather``, the client's ``fetch``).

Each API method a user calls to wait wraps its body in ``with raised_as_local:``. When a task's
failure leaves the block, its traceback is set to the task's frames; the ``with`` statement
re-raises it as it is (a re-raise adds no entry for the frame), and the frames it then
propagates through, the caller's, add theirs as for any exception. In IPython,
``__tracebackhide__`` hid treadle's frames already; this does the same for scripts, without
touching ``sys.excepthook``."""

from .errors import TaskCancelled, TaskFailed
from .remote_exception import task_traceback


class _RaisedAsLocal:
    __slots__ = ()

    def __enter__(self):
        return None

    def __exit__(self, kind, error, tb):
        if isinstance(error, (TaskFailed, TaskCancelled)):
            error.__traceback__ = task_traceback(error)
        return False   # the exception goes on, with the traceback set above


raised_as_local = _RaisedAsLocal()   # stateless: one for every with statement
