"""Futures of treadle's native API."""

from .loom.client.errors import TaskFailed


class TaskError(TaskFailed):
    """A task of the native API raised; the message carries the remote traceback."""

    @classmethod
    def from_error(cls, error):
        failure = getattr(error, "failure", None)
        if failure is not None:
            return cls.from_failure(failure)
        return cls(error.task_id, error.origin_id, error.label, error.task_type, error.error)


class Future:
    """The result of a task, computed on a worker.

    ``result()`` waits and returns it; ``done()`` says whether it is there; ``release()``
    frees it on the workers (dropping the last reference does too). A future can be passed
    to other tasks, also inside lists, tuples and dicts: they get its result.
    """

    __slots__ = ("_client", "_task", "_loom", "_value", "_has_value", "key", "__weakref__")

    def __init__(self, client, task, key):
        self._client = client
        self._task = task     # the loom Task, until submitted
        self._loom = None     # the loom Future, once submitted
        self._value = None
        self._has_value = False
        self.key = key        # the function's name and a counter, for messages

    @property
    def task_id(self):
        """The server's id of the task (submits pending tasks first)."""
        self._client.flush()
        return self._loom.task_id

    def result(self, timeout=None):
        """Waits for the task and returns its result; raises TaskError if it failed (an
        instance of the task's own exception type too, with its traceback)."""
        __tracebackhide__ = True
        if not self._has_value:
            self._value = self._client.gather([self], timeout=timeout)[0]
            self._has_value = True
        return self._value

    def exception(self):
        """The TaskError of a failed task, or None once it succeeded (waits for it)."""
        try:
            self.result()
        except TaskFailed as error:
            return error
        return None

    def done(self):
        """True once the task finished or failed (does not wait)."""
        return self._has_value or self._client._is_settled(self)

    def release(self):
        self._client.release([self])

    def __repr__(self):
        state = "done" if self._has_value else ("pending" if self._loom is None else "submitted")
        return "<treadle.Future {} {}>".format(self.key, state)
