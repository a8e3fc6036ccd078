"""SCOOP's API on treadle's core (``treadle.scoop`` stands for ``scoop``): SCOOP programs run
after changing their import line, under ``python3 -m treadle.scoop`` (docs/scoop.md).

``futures`` (map, submit, mapReduce...), ``shared`` (constants for every worker), ``logger``
(time, worker and module on every line) and ``worker`` (the worker running this code). Stands
on ``treadle.core`` and ``treadle.runtime``, not on another API."""

from . import futures, program, shared
from .identity import worker
from .log import logger

program.importable_in_executors()   # before a SCOOP task's arguments are unpickled here

IS_RUNNING = True   # SCOOP's flag: programs test it; here the pool is always reachable

__all__ = ["futures", "shared", "logger", "worker", "IS_RUNNING"]
