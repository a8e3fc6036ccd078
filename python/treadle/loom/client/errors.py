"""Exceptions of the HyperLoom client API (every treadle API raises them: treadle.core.errors)."""

from ...core.errors import LoomException, TaskFailed

__all__ = ["LoomException", "TaskFailed"]
