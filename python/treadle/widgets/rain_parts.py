"""What the widgets draw and count of Rain's objects (treadle.rain.client): a task is its core
task (its handle once submitted), a data object its task, a session every task it submitted
(the plans it sent) and those it will submit."""

from ..rain.client import DataObject, Session, Task as RainTask

TASKS = (RainTask, DataObject)   # one task each (a data object: the task that makes it)
KINDS = TASKS + (Session,)


class Parts:
    """A Rain object's tasks: ``client`` (the core client), ``ids`` (submitted task ids) and
    ``pending`` (core Tasks not submitted yet); ``plans``: whether the ids are whole plans
    (the Python functions sent with the calls are in them, and are not steps)."""

    __slots__ = ("client", "ids", "pending", "plans")

    def __init__(self, client, ids=(), pending=(), plans=False):
        self.client, self.ids, self.pending, self.plans = client, list(ids), list(pending), plans


def parts(value):
    """The Parts of a Rain task, data object or session."""
    if isinstance(value, DataObject):
        value = value.task
    if isinstance(value, RainTask):
        client = value.session.client.core
        if value.task_id is not None:
            return Parts(client, [value.task_id])
        return Parts(client, pending=[value.core])
    ids = [t for base, count in value.plans for t in range(base, base + count)]
    return Parts(value.client.core, ids, [t.core for t in value.unsubmitted()], plans=True)
