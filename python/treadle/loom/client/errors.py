"""Exceptions of the HyperLoom client API."""


class LoomException(Exception):
    """Anything the server refused: a malformed plan, an unknown task type, a lost connection."""


class TaskFailed(LoomException):
    """A task failed; the message names the task and carries the program's stderr or traceback.

    Attributes: ``task_id`` (the task waited on), ``origin_id`` (the task whose own run failed),
    ``label``, ``task_type`` and ``error`` (the failure text without the "Task id=... failed" prefix).
    """

    def __init__(self, task_id, origin_id, label, task_type, error):
        self.task_id = task_id
        self.origin_id = origin_id
        self.label = label
        self.task_type = task_type
        self.error = error
        name = " ({})".format(label) if label else ""
        super().__init__("Task id={}{} failed: {}".format(origin_id if task_id == origin_id else task_id,
                                                          name if task_id == origin_id else "", error))

    @classmethod
    def from_failure(cls, failure):
        return cls(failure["task"], failure["origin"], failure["label"], failure["type"], failure["message"])
