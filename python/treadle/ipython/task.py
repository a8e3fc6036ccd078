"""IPython's ``Task`` (what to run on an engine, and how) and ``TaskResult`` (what came back)."""

import time

from ..core.local_traceback import raised_as_local

_FIELDS = ("expression", "pull", "push", "clear_before", "clear_after", "retries", "recovery_task", "depend")


class Task:
    """Code to run on some engine: ``Task("a = f(x)", push={"x": 1}, pull="a")``.

    ``pull``: a name or list of names whose values come back as the result; ``push``: a dict
    put into the engine's namespace first; ``clear_before``/``clear_after``: reset the engine's
    namespace before/after; ``retries``: how many times to run it again when it fails (its code
    raised, or its engine was lost); ``recovery_task``: a Task run instead when the retries are
    spent; ``depend``: a function of an engine's properties dict, True where the task may run.
    Every one is an attribute too, settable after construction.
    """

    def __init__(self, expression, pull=None, push=None, clear_before=False, clear_after=False, retries=0,
                 recovery_task=None, depend=None):
        self.expression = expression
        self.pull = pull
        self.push = push
        self.clear_before = clear_before
        self.clear_after = clear_after
        self.retries = retries
        self.recovery_task = recovery_task
        self.depend = depend

    def checked(self):
        """(code, pull list, push dict) after checking every attribute; raises on bad ones."""
        if not isinstance(self.expression, str):
            raise TypeError("Task: the code must be a string, not {}".format(type(self.expression).__name__))
        # Not compiled here: a syntax error is the task's failure, as on IPython's engines (and
        # compiling every task twice would cost a third of the client's time per task).
        if self.pull is not None and not isinstance(self.pull, str) and not hasattr(self.pull, "__iter__"):
            raise TypeError("Task: pull must be a name or a list of names, not {!r}".format(self.pull))
        pull = [] if self.pull is None else [self.pull] if isinstance(self.pull, str) else list(self.pull)
        if not all(isinstance(n, str) for n in pull):
            raise TypeError("Task: pull must be a name or a list of names, not {!r}".format(self.pull))
        push = {} if self.push is None else self.push
        if not isinstance(push, dict):
            raise TypeError("Task: push must be a dict, not {}".format(type(push).__name__))
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise ValueError("Task: retries must be a non-negative integer, not {!r}".format(self.retries))
        if self.recovery_task is not None and not isinstance(self.recovery_task, Task):
            raise TypeError("Task: recovery_task must be a Task, not {}".format(type(self.recovery_task).__name__))
        if self.depend is not None and not callable(self.depend):
            raise TypeError("Task: depend must be a function of an engine's properties")
        return self.expression, pull, push

    def recovery_chain(self):
        """[self, its recovery task, that one's...]; a loop among them is refused."""
        chain, seen = [], set()
        task = self
        while task is not None:
            if not isinstance(task, Task):
                raise TypeError("Task: recovery_task must be a Task, not {}".format(type(task).__name__))
            if id(task) in seen:
                raise ValueError("Task: the recovery_task chain loops back to {!r}".format(task))
            seen.add(id(task))
            chain.append(task)
            task = task.recovery_task
        return chain

    def __repr__(self):
        def shown(value):   # a recovery task by its code only: a chain may loop
            return "Task({!r})".format(value.expression) if isinstance(value, Task) else repr(value)
        return "Task({!r}{})".format(self.expression, "".join(
            ", {}={}".format(f, shown(getattr(self, f))) for f in _FIELDS[1:] if getattr(self, f) not in (None, False, 0)))


class ResultNamespace:
    """The pulled values by attribute: ``result.ns.a``."""

    def __init__(self, results):
        self.__dict__.update(results)

    def __repr__(self):
        return "<ResultNamespace {}>".format(sorted(self.__dict__))


def _stamp(t):
    return time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(t)) if t is not None else None


class TaskResult:
    """What a task gave: ``results`` (the pulled names and values), ``ns`` (the same by
    attribute), ``engineid``, ``submitted``/``completed`` (local time, "YYYY/MM/DD HH:MM:SS"),
    ``duration`` (seconds, float), ``failure`` (the exception, None if it succeeded; raised by
    ``raise_exception()``), ``taskid``, ``attempts`` and ``recovered_by`` (the recovery task's
    index in the chain when one ran)."""

    def __init__(self, taskid, results, engineid, submitted, completed, failure=None, attempts=1, recovered_by=0):
        self.taskid = taskid
        self.results = dict(results or {})
        self.engineid = engineid
        self.submitted_at = submitted
        self.completed_at = completed
        self.failure = failure
        self.attempts = attempts
        self.recovered_by = recovered_by

    @property
    def ns(self):
        return ResultNamespace(self.results)

    @property
    def keys(self):
        return list(self.results)

    @property
    def submitted(self):
        return _stamp(self.submitted_at)

    @property
    def completed(self):
        return _stamp(self.completed_at)

    @property
    def duration(self):
        return self.completed_at - self.submitted_at

    @property
    def succeeded(self):
        return self.failure is None

    def raise_exception(self):
        """Raises the task's failure, if it failed."""
        if self.failure is not None:
            with raised_as_local:   # the caller's frames, then the task's (also when raised again)
                raise self.failure

    def __getitem__(self, name):
        return self.results[name]

    def __repr__(self):
        if self.failure is not None:
            text = getattr(self.failure, "error", None) or "{}: {}".format(type(self.failure).__name__, self.failure)
            return "TaskResult[ID:{}]:{}".format(self.taskid, text)
        return "TaskResult[ID:{}]:{}".format(self.taskid, self.results)
