"""Waiting for tasks with a time limit, as ``concurrent.futures`` does (``result(timeout=)``,
``gather(timeout=)``): the tasks go on after a TimeoutError. Inside a task the wait gives the
task's cpu back, as every blocking wait there does (task_clients.blocking)."""

import time

from . import task_clients


def settle_within(connection, ids, settled, take_settled, timeout):
    """Waits until every task of ``ids`` is in ``settled`` (filled by ``take_settled`` from the
    server's ``settled`` messages on ``connection``, for tasks the caller watches); raises
    TimeoutError after ``timeout`` seconds."""
    if not (isinstance(timeout, (int, float)) and timeout >= 0):
        raise ValueError("timeout must be a number of seconds >= 0, not {!r}".format(timeout))
    deadline = time.monotonic() + timeout
    with task_clients.blocking():
        while True:
            take_settled(connection.settled(0.0))
            pending = [i for i in ids if i not in settled]
            if not pending:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("{} of {} task{} not done after {:g} s".format(
                    len(pending), len(ids), "" if len(ids) == 1 else "s", timeout))
            take_settled(connection.settled(min(left, 1.0)))
