"""The native API's Future (a call's result, computed on a worker) and TaskError (its failure)."""

from .core.errors import TaskCancelled, TaskFailed
from .core.foreign import RefusesPickling
from .core.local_traceback import raised_as_local, returned_as_local
from .refused_calls import InputReleased


class TaskError(TaskFailed):
    """A task of the native API raised; the message carries the remote traceback."""

    @classmethod
    def from_error(cls, error):
        if getattr(error, "failure", None) is not None:
            return cls.from_failure(error.failure)
        return cls(error.task_id, error.origin_id, error.label, error.task_type, error.error)


class Future(RefusesPickling):
    """The result of a task, computed on a worker.

    ``result()`` waits and returns it; ``done()`` says whether it is there; ``release()``
    frees it on the workers (dropping the last reference does too). A future can be passed
    to other tasks, also inside lists, tuples and dicts: they get its result.
    """

    __slots__ = ("_client", "_spec", "_handle", "_value", "_has_value", "label", "_number", "_heard", "_refused",
                 "__weakref__")
    __treadle_api__ = ("treadle", "f.result()")   # core.foreign: other APIs refuse it by name

    def __init__(self, client, spec, label, number):
        self._client = client
        self._spec = spec       # (fn, input futures, config, label, cpus, hooks' cell tokens), until sent
        self._handle = None     # the core TaskHandle, once sent
        self._value = None
        self._has_value = False
        self.label = label      # the function's name, or the call's label
        self._number = number   # the client's count of calls: with the label, the key
        self._heard = None      # the server's last word on its state, and when (for its repr)
        self._refused = None    # the error of a call not sent: an input was cancelled or released (refused_calls)

    @property
    def key(self):
        """The label and a counter, for messages (made when asked: not per call)."""
        return "{}-{}".format(self.label, self._number)

    @property
    def client(self):
        return self._client

    @property
    def handle(self):
        """The core.client.TaskHandle of the sent task, or None before it is sent."""
        return self._handle

    @property
    def task_id(self):
        """The server's id of the task (submits pending tasks first)."""
        self._client.flush()
        return None if self._handle is None else self._handle.task_id   # None: a refused call (refused_calls)

    def pending_inputs(self):
        """The futures this call was given, while it is not sent yet (else [])."""
        return list(self._spec[1]) if self._spec is not None else []

    @property
    def refused(self):
        """The error of a call not sent because an input was cancelled or released, else None."""
        return self._refused

    def refuse(self, error):
        """Ends this unsent call with ``error`` (refused_calls): its waits raise it."""
        self._refused, self._spec = error, None

    def has_result(self):
        """True once the result is here (does not wait, does not ask)."""
        return self._has_value

    def known_state(self):
        """"finished" or "failed" if this client knows how the task ended, else None."""
        if self._has_value:
            return "finished"
        if self._refused is not None:
            return "cancelled" if self.cancelled() else "failed"
        if self._handle is None:
            return None
        settled = self._client.settled_state(self._handle.task_id)
        return None if settled is None else "finished" if settled else "failed"

    def result(self, timeout=None):
        """Waits for the task and returns its result; raises TaskError if it failed (an instance
        of the task's own exception type too, with its traceback), TaskCancelled (a
        concurrent.futures.CancelledError) if it was cancelled; TimeoutError after ``timeout`` s."""
        __tracebackhide__ = True
        if not self._has_value:
            with raised_as_local:   # a task's failure: the caller's frames, then the task's
                self._value = self._client.gather([self], timeout=timeout)[0]
            self._has_value = True
        return self._value

    def exception(self):
        """The TaskError of a failed task, or None once it succeeded (waits for it)."""
        try:
            self.result()
        except (TaskFailed, InputReleased) as error:
            return returned_as_local(error)   # the task's frames, not this method's
        return None

    def cancel(self):
        """Cancels the task unless it has ended, as ``client.cancel([f])`` does (a running one
        too, where concurrent.futures would refuse). True if the future is cancelled (now or
        before), False if its task had ended (its result or failure stays)."""
        if not self.cancelled() and not self._has_value:
            self._client.cancel([self])
        return self.cancelled()

    def cancelled(self):
        """True once the task was cancelled before it ended (cancel(), client.cancel, the
        kernel's interrupt): the future is done and result() raises TaskCancelled."""
        if self._refused is not None:   # its input was cancelled: so is the call
            return isinstance(self._refused, TaskCancelled)
        return self._handle is not None and self._handle.cancelled()

    def done(self):
        """True once the task finished, failed or was cancelled (does not wait)."""
        return self._has_value or self._refused is not None or self._client.has_ended(self)

    def release(self):
        self._client.release([self])

    def __repr__(self):
        task = "" if self._handle is None else " (task {})".format(self._handle.task_id)  # the id messages name
        return "<treadle.Future {}{} {}>".format(self.key, task, self._client.state_of(self))
