"""Losing the only worker big enough for a task does not fail the task while a replacement may
join: it waits for a worker that fits for the grace period (`--worker-grace`, 30 s), and fails
with the clear message only if none joined by then. A task no worker could ever run (more cpus
than any worker had) still fails at once, well within that grace."""

import os
import signal

import pytest

import treadle
from tests.conftest import wait_until

GRACE_S = 600  # far longer than the tests' deadlines: nothing here may wait for it to end


def wait_for_file(path, x):
    import os
    import time
    while not os.path.exists(path):
        time.sleep(0.01)
    return x * 7


def times_seven(x):
    return x * 7


def listed_pids(client):
    return {int(w["name"].rsplit(":", 1)[1]) for w in client.status()["workers"]}


def running_on(client, worker):
    return any(w["running"] for w in client.status()["workers"] if w["name"].endswith(":{}".format(worker.pid)))


def small_and_big(make_cluster, grace_s=GRACE_S):
    """A cluster of a 1-cpu and a 2-cpu worker; returns it, its client and the big worker."""
    cluster = make_cluster(workers=0, cpus=1, server_args=["--worker-grace", str(grace_s)])
    cluster.add_worker(cpus=1)
    cluster.wait_for_workers(1)
    big = cluster.add_worker(cpus=2)
    cluster.wait_for_workers(2)
    return cluster, treadle.Client(cluster), big


def kill(cluster, client, worker):
    """SIGKILLs `worker` and waits until the server dropped it (its connection closed)."""
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(10)
    wait_until(lambda: worker.pid not in listed_pids(client), timeout=30, what="the server dropping the killed worker")


@pytest.mark.timeout(120)
def test_tasks_of_a_lost_big_worker_wait_for_its_replacement(make_cluster, tmp_path):
    cluster, client, big = small_and_big(make_cluster)
    go = str(tmp_path / "go")
    two = treadle.task(wait_for_file, cpus=2, client=client)
    wide = [two(go, i) for i in range(6)]
    narrow = [client.submit(times_seven, i) for i in range(6, 10)]
    assert [f.result() for f in narrow] == [i * 7 for i in range(6, 10)]
    wait_until(lambda: running_on(client, big), timeout=30, what="a 2-cpu task running on the big worker")

    # The only worker that fits is gone, and the small one is idle: every 2-cpu task is
    # placed again, finds no worker that fits, and waits (before: failed at once).
    kill(cluster, client, big)
    why = wait_until(lambda: (lambda r: r.why if r.state == "ready" and "waiting for a worker with 2 cpus" in (r.why or "")
                              else None)(client.story(wide[0]).records[0]),
                     timeout=30, what="the 2-cpu task waiting for a worker with 2 cpus")
    assert "it needs 2 cpus; the largest worker has 1" in why, why
    assert "waiting for a worker with 2 cpus" in str(client.story(wide[-1]))

    cluster.add_worker(cpus=2)
    open(go, "w").close()
    assert [f.result(timeout=60) for f in wide] == [i * 7 for i in range(6)]
    assert [f.result() for f in narrow] == [i * 7 for i in range(6, 10)]
    client.close()


@pytest.mark.timeout(60)
def test_a_task_no_worker_ever_fitted_fails_at_once_within_the_grace(make_cluster):
    cluster, client, big = small_and_big(make_cluster)
    kill(cluster, client, big)
    # Within the grace after the big worker left: a task it could not have run either fails now.
    huge = treadle.task(times_seven, cpus=4, client=client)(1)
    with pytest.raises(Exception, match="no connected worker can run it: it needs 4 cpus; the largest worker has 1"):
        huge.result(timeout=50)
    # A 2-cpu task submitted now waits for a replacement instead.
    two = treadle.task(times_seven, cpus=2, client=client)(3)
    wait_until(lambda: "waiting for a worker with 2 cpus" in (client.story(two).records[0].why or ""),
               timeout=30, what="the 2-cpu task waiting")
    cluster.add_worker(cpus=2)
    assert two.result(timeout=50) == 21
    client.close()


@pytest.mark.timeout(60)
def test_a_task_fails_when_no_worker_that_fits_joins_within_the_grace(make_cluster):
    cluster, client, big = small_and_big(make_cluster, grace_s=1)
    kill(cluster, client, big)
    two = treadle.task(times_seven, cpus=2, client=client)(3)
    with pytest.raises(Exception, match="no connected worker can run it: it needs 2 cpus; the largest worker has 1"):
        two.result(timeout=50)
    client.close()
