"""Rain's built-in tasks on treadle's: Concat (loom/data/merge) and Sleep (loom/base/sleep)."""

from ...core.task import ResourceRequest, Task as CoreTask
from .output import Output
from .task import Task, input_ref

MERGE = "loom/data/merge"
SLEEP = "loom/base/sleep"


def Concat(inputs, name=None):  # noqa: N802 - Rain's name
    """One blob: the inputs joined."""
    return Task(CoreTask(MERGE, tuple(input_ref(i) for i in inputs), b"", name), [Output("output")])


def Sleep(input, seconds, name=None, cpus=1):  # noqa: N802,A002 - Rain's names
    """Its input, after ``seconds``."""
    return Task(CoreTask(SLEEP, (input_ref(input),), repr(float(seconds)).encode(), name, ResourceRequest(cpus)),
                [Output("output", content_type=_content_type(input))])


def _content_type(obj):
    return getattr(obj, "content_type", "") or ""
