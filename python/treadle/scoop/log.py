"""``scoop.logger``: a logger whose lines carry the time, the worker and the module."""

import logging
import sys

from . import identity

FORMAT = "[%(asctime)s] %(module)-12s (%(worker)s) %(levelname)-7s %(message)s"


class _WorkerField(logging.Filter):
    def filter(self, record):
        record.worker = identity.current_worker()
        return True


def make_logger():
    log = logging.getLogger("scoop")
    if not log.handlers:
        # stderr, as SCOOP: inside a task it reaches the client marked with its task.
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(_WorkerField())
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    return log


logger = make_logger()
