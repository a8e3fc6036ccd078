"""Task redirection (a Python task returns a Task) on more than one worker: recursive plans end
with the right result, failures inside them fail exactly their own roots, and a worker killed
mid-tree costs nothing but time.

Issue 9: recursive fib through redirection hung on two workers (consumers chained behind the
redirected task waited on its worker for a result made elsewhere) and, once that was fixed,
sometimes failed with "input task N was no longer on the worker that had it" (a consumer
fetched the redirected result from a worker not yet told to hold it under the task's name)."""

import signal
import sys

import cloudpickle
import pytest

from tests.conftest import wait_until
from treadle.loom.client import Client, TaskFailed, tasks

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def fib_value(n):
    return n if n < 2 else fib_value(n - 1) + fib_value(n - 2)


@tasks.py_task()
def fib(n):
    k = int(n.read())
    if k < 2:
        return str(k)
    return add(fib(tasks.const(str(k - 1))), fib(tasks.const(str(k - 2))))


@tasks.py_task()
def add(a, b):
    return str(int(a.read()) + int(b.read()))


@tasks.py_task()
def tree(spec):
    """A binary tree of depth d whose leaf number `bad` raises; the node value is the sum."""
    depth, first, bad = map(int, spec.read().split())
    if depth == 0:
        if first == bad:
            raise ValueError("leaf {} is bad".format(first))
        return str(first)
    half = 2 ** (depth - 1)
    return add(tree(tasks.const("{} {} {}".format(depth - 1, first, bad))),
               tree(tasks.const("{} {} {}".format(depth - 1, first + half, bad))))


@pytest.mark.timeout(120)
@pytest.mark.parametrize("workers,cpus", [(1, 2), (2, 1), (3, 2)])
def test_recursive_redirection_ends_with_the_right_result(make_cluster, workers, cpus):
    cluster = make_cluster(workers=workers, cpus=cpus)
    client = Client(*cluster.address)
    for n in (7, 8, 10):
        assert client.submit_one(fib(tasks.const(str(n)))).gather() == str(fib_value(n)).encode()
    client.close()


@pytest.mark.timeout(120)
def test_failures_inside_redirected_trees_fail_exactly_their_roots(make_cluster):
    cluster = make_cluster(workers=2, cpus=1)
    client = Client(*cluster.address)
    depth, leaves = 4, 16
    bad_of = {0: -1, 1: 5, 2: -1, 3: 0, 4: 15, 5: -1}  # tree index -> its failing leaf (-1: none)
    futures = client.submit([tree(tasks.const("{} 0 {}".format(depth, bad))) for bad in bad_of.values()])
    for index, future in enumerate(futures):
        bad = bad_of[index]
        if bad < 0:
            assert future.gather() == str(sum(range(leaves))).encode()
        else:
            with pytest.raises(TaskFailed, match="leaf {} is bad".format(bad)):
                future.gather()
    assert client.submit_one(fib(tasks.const("6"))).gather() == b"8"
    client.close()


@pytest.mark.timeout(120)
def test_a_worker_killed_in_a_redirected_tree(make_cluster, tmp_path):
    cluster = make_cluster(workers=3, cpus=1)
    client = Client(*cluster.address)
    future = client.submit_one(fib(tasks.const("13")))
    # Kill the busiest worker once the tree is well under way (and not finished).
    status = wait_until(lambda: (lambda s: s if sum(w["tasks_done"] for w in s["workers"]) > 60 else None)(client.status()),
                        timeout=60, interval=0.01, what="progress in the tree")
    victim_pid = int(max(status["workers"], key=lambda w: w["tasks_done"])["name"].rsplit(":", 1)[1])
    victim = next(w for w in cluster.workers if w.pid == victim_pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    assert future.gather() == str(fib_value(13)).encode()
    client.close()
