"""A task's failure raised where the caller waits, with a traceback that reads like local code:
the caller's frames, then the task's own (rebuilt from the worker's, core.remote_exception), and
none of treadle's in between (the API's ``result``, ``gather``, the client's ``fetch``).

Each API method a user calls to wait wraps its body in ``with raised_as_local:``. When a task's
failure leaves the block, its traceback is set to the task's frames; the ``with`` statement
re-raises it as it is (a re-raise adds no entry for the frame), and the frames it then
propagates through, the caller's, add theirs as for any exception. In IPython,
``__tracebackhide__`` hid treadle's frames already; this does the same for scripts, without
touching ``sys.excepthook``."""

import functools
import os
import pickle

import cloudpickle

from .errors import TaskCancelled, TaskFailed
from .remote_exception import is_treadle_frame, task_traceback


def is_task_failure(error):
    """A task's failure or cancellation: core's, or an API's own type that says it is one
    (a class attribute ``treadle_task_failure = True``: Rain's TaskException)."""
    return isinstance(error, (TaskFailed, TaskCancelled)) or getattr(error, "treadle_task_failure", False)


class _RaisedAsLocal:
    __slots__ = ()

    def __enter__(self):
        return None

    def __exit__(self, kind, error, tb):
        if error is not None and is_task_failure(error):
            error.__traceback__ = task_traceback(error)
        return False   # the exception goes on, with the traceback set above


raised_as_local = _RaisedAsLocal()   # stateless: one for every with statement


def returned_as_local(error):
    """A task's failure as an API's ``exception()`` returns it: with the task's frames only as
    its traceback, not those of the API's fetch it was caught in (``raise f.exception()`` and
    ``traceback.print_exception(f.exception())`` then read like local code)."""
    if error is not None and is_task_failure(error):
        error.__traceback__ = task_traceback(error)
    return error


def raising_as_local(method):
    """``method`` with its body in ``raised_as_local``: for an API whose many entry points
    raise a failure they kept (Rain's sessions). Not for calls made per task: it costs a call."""
    @functools.wraps(method)
    def raising(*args, **kwargs):
        __tracebackhide__ = True
        with raised_as_local:
            return method(*args, **kwargs)
    return raising


# Frames a call's own error need not show, beside treadle's (is_treadle_frame): the picklers' it ran.
_PICKLER_DIR = os.path.dirname(os.path.abspath(cloudpickle.__file__)) + os.sep
_PICKLE_FILE = os.path.abspath(pickle.__file__)


def _ours(tb):
    filename = tb.tb_frame.f_code.co_filename
    return is_treadle_frame(filename) or filename.startswith(_PICKLER_DIR) or filename == _PICKLE_FILE


def without_our_frames(tb):
    """The traceback ``tb`` without the entries of treadle's frames (and pickle's): the user's
    own, in order (a user's generator run while pickling keeps its frame)."""
    kept = []
    while tb is not None:
        if not _ours(tb):
            kept.append(tb)
        tb = tb.tb_next
    for entry, after in zip(kept, kept[1:] + [None]):
        entry.tb_next = after
    return kept[0] if kept else None


class _RaisedFromCall:
    """``with raised_from_call:`` around the work of an API call on its arguments: an error
    leaving it (a wrong argument, the user's own generator failing) reads as raised at the
    caller's line, without treadle's frames in between (the with statement re-raises it as is)."""
    __slots__ = ()

    def __enter__(self):
        return None

    def __exit__(self, kind, error, tb):
        if error is not None:
            error.__traceback__ = without_our_frames(tb)
        return False


raised_from_call = _RaisedFromCall()
