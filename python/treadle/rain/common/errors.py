"""Rain's exceptions."""


class RainException(Exception):
    """An error of the Rain API (a bad graph, a session that failed, a wrong content type)."""


class TaskException(RainException):
    """A task failed; the message names the task and says why."""


class RainWarning(Warning):
    """Something that works but may cost (a large pickled argument)."""
