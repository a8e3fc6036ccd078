"""``treadle.ipython.client`` stands for IPython's ``IPython.kernel.client``: code written for
IPython's task interface runs on treadle after changing its import line to
``from treadle.ipython import client``. See docs/ipython.md."""

from .address import default_task_address as _default_task_address
from .connection import EngineFailure
from .errors import ConnectionError, EngineLost, KernelError, TaskAborted, TaskTimeout
from .multiengine import MultiEngineClient
from .task import ResultNamespace, Task, TaskResult
from .task_client import TaskClient

__all__ = ["Task", "TaskClient", "TaskResult", "ResultNamespace", "MultiEngineClient", "EngineFailure",
           "EngineLost", "TaskAborted", "TaskTimeout", "KernelError", "ConnectionError", "default_task_address"]


def __getattr__(name):
    # default_task_address is looked up when read: inside the kernel, or a cluster started later.
    if name == "default_task_address":
        return _default_task_address()
    raise AttributeError("module {!r} has no attribute {!r}".format(__name__, name))
