"""The errors every API raises (HyperLoom's names: its client raised them first, and code written
for it catches them)."""

import concurrent.futures
import re
import sys

from .remote_exception import rebuild


class LoomException(Exception):
    """Anything the server refused: a malformed plan, an unknown task type, a lost connection."""


class TaskFailed(LoomException):
    """A task failed; the message names the task and carries the program's stderr or traceback.

    Attributes: ``task_id`` (the task waited on), ``origin_id`` (the task whose own run failed),
    ``label``, ``task_type``, ``error`` (the failure text without the "Task id=... failed" prefix)
    and ``worker`` (the name of the worker it failed on, when one ran it).

    When a Python task raised, what is raised is a subclass of both the task's exception type
    and this class: ``except ZeroDivisionError`` catches it, its ``args`` are the task's, and its
    traceback holds the task's frames (see treadle.core.remote_exception).
    """

    def __init__(self, task_id, origin_id, label, task_type, error):
        self.init_attributes(task_id, origin_id, label, task_type, error)
        name = " ({})".format(label) if label else ""
        super().__init__("Task id={}{} failed: {}".format(origin_id if task_id == origin_id else task_id,
                                                          name if task_id == origin_id else "", error))

    def init_attributes(self, task_id, origin_id, label, task_type, error):
        self.task_id = task_id
        self.origin_id = origin_id
        self.label = label
        self.task_type = task_type
        self.error = error
        where = re.search(r"\(on worker (.*)\)\s*$", error)
        self.worker = where.group(1) if where else None

    @classmethod
    def from_failure(cls, failure):
        """The exception to raise for the server's ``failed`` answer: the task's own exception
        type when it travelled (see above), else this class with the failure's text."""
        args = (failure["task"], failure["origin"], failure["label"], failure["type"], failure["message"])
        packed = failure.get("exception")
        if packed:
            error = rebuild(packed, cls, args)
            if error is not None:
                error.failure = failure
                return error
        error = cls(*args)
        error.failure = failure  # what the native API rebuilds its own error from
        return error


class TaskCancelled(LoomException, concurrent.futures.CancelledError):
    """Waiting on (or fetching) a task that was cancelled before it ended: by its client's
    ``cancel``, by an interrupt of the notebook cell that submitted it, or by ``%treadle stop``.
    A ``concurrent.futures.CancelledError``, as PEP 3148 raises for a cancelled future.

    Attributes: ``task_id``, ``label`` (or None), ``reason`` (what cancelled it, or None)."""

    def __init__(self, task_id, reason=None, label=None):
        self.task_id, self.reason, self.label = task_id, reason, label
        super().__init__("task {}{} was cancelled{}".format(task_id, " ({})".format(label) if label else "",
                                                            " " + reason if reason else ""))


def propagating_interrupt():
    """True inside a ``finally`` that a KeyboardInterrupt passes through. An interrupt is not
    the end of a map or a gather: what it leaves running is the interrupt's business (in a
    notebook the cell tracker cancels the cell's tasks and says so, or keeps them running with
    ``cancel_on_interrupt=off``; in a script they go with the futures, when the traceback does)."""
    return isinstance(sys.exc_info()[1], KeyboardInterrupt)
