"""Helpers shared by the tests of Python tasks (test_python_tasks, test_executors,
test_native_api, test_own_tasks).

``_no_leftover_processes`` replaces conftest's autouse check of the same name in the modules
that import it: a worker of a module-scoped cluster starts its Python executors on its first
Python task and replaces one that dies, so executors appear during a test and rightly stay,
as the worker's children, after it. Those are not leftovers; everything else still is.
"""

import time

import psutil
import pytest

from tests import conftest


def _is_executor_of(p, workers):
    try:
        return p.ppid() in workers and "treadle.executor" in " ".join(p.cmdline())
    except psutil.Error:
        return True  # gone meanwhile


@pytest.fixture(autouse=True)
def _no_leftover_processes():
    before = conftest._alive_children()
    yield
    deadline = time.monotonic() + 8
    while True:
        left = {pid: p for pid, p in conftest._alive_children().items()
                if pid not in before and not _is_executor_of(p, before)}
        left.update({p.pid: p for p in conftest.tagged_processes()})
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if left:
        names = []
        for p in left.values():
            try:
                names.append("{} {}".format(p.pid, " ".join(p.cmdline())[:120]))
            except psutil.Error:
                pass
        conftest._kill_all(list(left.values()))
        if names:
            pytest.fail("processes left behind by the test: " + "; ".join(names), pytrace=False)
