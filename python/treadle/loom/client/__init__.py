"""Import-compatible with HyperLoom's ``loom.client``: change the import line, keep the code."""

from . import tasks
from .client import Client
from .errors import LoomException, TaskFailed
from .future import Future
from .task import ResourceRequest, Task

__all__ = ["Client", "Future", "LoomException", "ResourceRequest", "Task", "TaskFailed", "tasks"]
