"""The counts the scheduler gives (status, states, release) during a run, after a failure and
after a cancel: running means executing now, a worker's free cpus are never negative, and a
release says what it really cancelled."""

import sys
import threading
import time

import pytest

import cloudpickle

import treadle
from tests.conftest import wait_until
from treadle.loom.client import tasks

# Functions of this module travel by value: the executors cannot import the test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

TASKS = 16


def _nap(i):
    import time as t  # deliberate: runs in the executor
    t.sleep(0.15)
    return i


def _sample_until(client, done):
    """Status samples, taken as fast as the server answers, until done() is true."""
    samples = []
    while not done():
        samples.append(client.status())
    samples.append(client.status())
    return samples


def _max_overlap(intervals):
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    now = best = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


@pytest.mark.timeout(120)
def test_running_means_executing_now_and_the_trace_agrees(make_cluster):
    cluster = make_cluster(workers=2, cpus=1)
    client = treadle.Client(cluster)
    try:
        futures = [client.submit(_nap, i) for i in range(TASKS)]
        client.flush()
        samples = _sample_until(client, lambda: all(f.done() for f in futures))
        assert sorted(f.result() for f in futures) == list(range(TASKS))
        ids = {f.task_id for f in futures}
        trace = client.core.trace()
    finally:
        client.close()

    running = [s["states"]["running"] for s in samples]
    queued = [s["states"]["assigned"] for s in samples]
    # One task per cpu at a time: 2 workers of 1 cpu never run more than 2.
    assert max(running) == 2, running
    # A worker takes a task beyond its cpu (so it never idles): that one is queued, not running.
    assert max(queued) >= 1, queued
    for s in samples:
        for w in s["workers"]:
            assert w["running"] <= 1, w
            assert 0 <= w["free_cpus"] <= 1, w
            assert w["free_cpus"] == 1 - w["running"], w

    # The trace of the same run: one task at a time per worker, two side by side in all.
    events = [e for e in trace["events"] if e["kind"] == "task" and e["task"] in ids]
    assert len(events) == TASKS
    by_worker = {}
    for e in events:
        by_worker.setdefault(e["worker"], []).append((e["start_us"], e["end_us"]))
    assert all(_max_overlap(spans) == 1 for spans in by_worker.values()), by_worker
    assert _max_overlap([(e["start_us"], e["end_us"]) for e in events]) == 2


@pytest.mark.timeout(60)
def test_status_during_a_run_counts_what_executes(make_cluster, make_client):
    # HyperLoom client: many short sleeps queue deep on the workers (2 ms of work per cpu).
    cluster = make_cluster(workers=2, cpus=1)
    client = make_client(cluster.address)
    sleeps = [tasks.sleep(0.002, tasks.const(str(i))) for i in range(300)]
    slow = [tasks.run(("/bin/sleep", "0.3")) for _ in range(6)]
    futures = client.submit(sleeps + slow)
    finished = threading.Event()
    waiter = threading.Thread(target=lambda: (client.wait(futures), finished.set()))
    waiter.start()
    try:
        samples = _sample_until(client, finished.is_set)
    finally:
        waiter.join()
    summary = [(s["states"]["running"], [(w["free_cpus"], w["running"], w["queued"]) for w in s["workers"]])
               for s in samples]
    for s in samples:
        free = sum(w["free_cpus"] for w in s["workers"])
        assert 0 <= free <= 2, summary
        for w in s["workers"]:
            assert 0 <= w["free_cpus"] <= w["cpus"], summary
            # Light sleeps may share the cpu, but only as many run as the worker has threads
            # (cpus + 8): the rest wait queued for one.
            assert w["running"] <= w["cpus"] + 8, summary
    assert any(w["queued"] > 0 for s in samples for w in s["workers"]), summary


@pytest.mark.timeout(60)
def test_release_says_what_it_cancelled(make_cluster, make_client):
    cluster = make_cluster(workers=1, cpus=1)
    client = make_client(cluster.address)
    quick = client.submit([tasks.const(str(i)) for i in range(3)])
    client.wait(quick)
    slow = client.submit([tasks.run(("/bin/sleep", "30")) for _ in range(5)])
    conn = client.connection
    wait_until(lambda: "running" in conn.states([f.task_id for f in slow]), what="a sleep running")
    # 3 futures had ended, 5 had not: the server cancels exactly those 5.
    answer = conn.cancel([f.task_id for f in quick + slow])
    assert answer["cancelled"] == 5 and sorted(answer["ended"]) == sorted(f.task_id for f in quick)
    assert set(conn.states([f.task_id for f in slow])) == {"cancelled"}
    # Ended futures were kept: their results are still there.
    assert client.gather(quick) == [b"0", b"1", b"2"]
    # Ids that are not this client's futures (any more) cancel nothing, and are named as such.
    ids = [f.task_id for f in slow]
    assert conn.cancel(ids) == {"cancelled": 0, "ended": [], "unheld": ids}


@pytest.mark.timeout(60)
def test_cancel_counts_what_the_server_cancelled(make_cluster):
    cluster = make_cluster(workers=1, cpus=1)
    client = treadle.Client(cluster)
    try:
        done = [client.submit(_nap, i) for i in range(2)]
        assert [f.result() for f in done] == [0, 1]
        slow = [client.submit(time.sleep, 30) for _ in range(4)]
        wait_until(lambda: "running" in client.core.states([f.task_id for f in slow]), what="a sleep running")
        assert client.cancel(done + slow) == (4, 2)
        assert set(client.core.states([f.task_id for f in slow])) == {"cancelled"}
        assert [f.result() for f in done] == [0, 1]   # ended ones keep their results
    finally:
        client.close()
