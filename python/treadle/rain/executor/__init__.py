"""The worker's side of Rain's Python tasks (``rain.executor``): the context a ``@remote``
function gets, and the runner that rebuilds its arguments and encodes its results."""

from .context import Context

__all__ = ["Context"]
