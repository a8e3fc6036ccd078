"""HyperLoom's Task and ResourceRequest: the nodes of every treadle plan (treadle.core.task)."""

from ...core.task import ResourceRequest, Task

__all__ = ["ResourceRequest", "Task"]
