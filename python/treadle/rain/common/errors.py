"""Rain's exceptions."""


class RainException(Exception):
    """An error of the Rain API (a bad graph, a session that failed, a wrong content type)."""


class SessionException(RainException):
    """A call on a session that cannot serve it (closed)."""


class TaskException(RainException):
    """A task failed. The message names the task and says why: its traceback or stderr, then
    its debug lines (``ctx.debug``) under "Debug:", as Rain's. Attributes: ``task`` (the Rain
    Task, when the client knows it), ``error`` (the failure text), ``debug`` (the debug lines,
    '' if none), ``cause`` (the core exception: for a Python task, the task's own exception
    type, see treadle.core.remote_exception).

    Raised to the caller without treadle's frames (its message carries the task's traceback:
    treadle.core.local_traceback), and without the core exception as its context."""

    treadle_task_failure = True

    def __init__(self, message, task=None, error="", debug="", cause=None):
        super().__init__(message)
        self.task = task
        self.error = error
        self.debug = debug
        self.cause = cause
        self.__suppress_context__ = True   # the core error it stands for: its message says it all


class RainWarning(Warning):
    """Something that works but may cost (a large pickled argument)."""
