"""Work stealing (docs/architecture.md, "Work stealing"): tasks queued on a busy worker move to
one that is idle, when they start sooner there. The victim gives back only what it has not
started; the story and the trace show each move and name both workers.

The first worker learns that its tasks are long (a 0.3 s program), so it queues one task per
cpu behind the running ones; then it gets programs that wait for a gate file: they hold its
cpus and the queued ones wait, in the worker's own queue (not started), until the test opens
the gate after the newcomers joined. So every test sees the same order of events whatever the
machine's load.
"""

import collections
import signal

import pytest

from tests.conftest import wait_until
from treadle.loom.client import Client, TaskFailed, tasks


def gated(gate, i, fail=False):
    """Waits for the gate, then prints its number and its worker's pid (the program's parent)."""
    script = "while [ ! -e {} ]; do sleep 0.01; done; sleep 0.2; echo {} $PPID".format(gate, i)
    return tasks.run(["sh", "-c", script + ("; exit 3" if fail else "")])


def queue_on_first_worker(client, gate, count, cpus):
    """`count` gated programs on the only worker: `cpus` running, the rest queued there."""
    assert client.submit_one(tasks.run(["sleep", "0.3"])).gather() == b""  # its tasks are long
    futures = client.submit([gated(gate, i) for i in range(count)])
    (first,) = client.status()["workers"]
    wait_until(lambda: (lambda w: w["running"] == cpus and w["queued"] == count - cpus)(client.status()["workers"][0]),
               timeout=30, what="every gated task sent to the first worker")
    return first, futures


def results(futures):
    """(number, worker pid) per future."""
    return [tuple(int(x) for x in f.gather().split()) for f in futures]


def moves(client, futures):
    """{task id: (from address, to address)} for every task the story shows stolen."""
    found = {}
    for record in client.story(futures).records:
        for before, step in zip(record.steps, record.steps[1:]):
            if step.placement == "stolen":
                assert (before.from_state, before.to_state) == ("assigned", "ready"), record
                assert "given back" in before.reason, record
                assert step.to_state == "assigned", record
                found[record.id] = (before.worker, step.worker)
    return found


def stolen_decisions(client):
    events = client.connection.trace(100000, kinds=["decision"])["events"]
    return [e for e in events if e["reason"] == "stolen"]


def address_of(client, worker_id):
    return next(w["address"] for w in client.status()["workers"] if w["id"] == worker_id)


@pytest.mark.timeout(120)
def test_queued_tasks_move_to_a_worker_that_joins_late(make_cluster, tmp_path):
    gate = str(tmp_path / "gate")
    cluster = make_cluster(workers=1, cpus=2)
    client = Client(*cluster.address)
    first, futures = queue_on_first_worker(client, gate, 4, cpus=2)
    late = cluster.add_worker(cpus=1)
    cluster.wait_for_workers(2)
    # Both queued tasks move (the newcomer runs one and queues one), the running ones stay.
    found = wait_until(lambda: (lambda m: m if len(m) == 2 else None)(moves(client, futures)), timeout=30,
                       what="the queued tasks moving")
    (newcomer,) = [w for w in client.status()["workers"] if w["id"] != first["id"]]
    assert set(found) == {futures[2].task_id, futures[3].task_id}
    assert set(found.values()) == {(first["address"], newcomer["address"])}
    open(gate, "w").close()
    done = results(futures)
    assert [i for i, _ in done] == [0, 1, 2, 3]
    assert [pid for _, pid in done] == [cluster.workers[0].pid] * 2 + [late.pid] * 2
    decisions = stolen_decisions(client)
    assert {d["task"] for d in decisions} == set(found)
    assert all(d["from"] == first["id"] and d["worker"] == newcomer["id"] for d in decisions)
    assert all("moved from worker {}".format(first["id"]) in d["why"] for d in decisions)
    assert client.status()["steals"] == 0
    client.close()


@pytest.mark.timeout(120)
def test_a_failing_task_among_the_moved_ones_fails_alone(make_cluster, tmp_path):
    gate = str(tmp_path / "gate")
    cluster = make_cluster(workers=1, cpus=2)
    client = Client(*cluster.address)
    assert client.submit_one(tasks.run(["sleep", "0.3"])).gather() == b""
    futures = client.submit([gated(gate, i, fail=(i == 3)) for i in range(4)])
    wait_until(lambda: (lambda w: w["running"] == 2 and w["queued"] == 2)(client.status()["workers"][0]),
               timeout=30, what="every gated task sent to the first worker")
    late = cluster.add_worker(cpus=1)
    cluster.wait_for_workers(2)
    wait_until(lambda: len(moves(client, futures)) == 2, timeout=30, what="the queued tasks moving")
    open(gate, "w").close()
    assert results(futures[:3]) == [(0, cluster.workers[0].pid), (1, cluster.workers[0].pid), (2, late.pid)]
    with pytest.raises(TaskFailed) as failed:
        futures[3].gather()
    # It failed where it moved to, once.
    assert "terminated with status 3" in str(failed.value)
    assert ":{})".format(late.pid) in str(failed.value)
    assert set(moves(client, futures)) == {futures[2].task_id, futures[3].task_id}
    assert client.status()["steals"] == 0
    client.close()


@pytest.mark.timeout(120)
def test_three_workers_two_join_late_and_both_take_tasks(make_cluster, tmp_path):
    gate = str(tmp_path / "gate")
    cluster = make_cluster(workers=1, cpus=4)
    client = Client(*cluster.address)
    first, futures = queue_on_first_worker(client, gate, 8, cpus=4)
    second, third = cluster.add_worker(cpus=1), cluster.add_worker(cpus=1)
    cluster.wait_for_workers(3)
    found = wait_until(lambda: (lambda m: m if len(m) == 4 else None)(moves(client, futures)), timeout=30,
                       what="the queued tasks moving to both newcomers")
    assert set(found) == {f.task_id for f in futures[4:]}
    assert {src for src, _ in found.values()} == {first["address"]}
    assert len({dst for _, dst in found.values()}) == 2
    assert collections.Counter(dst for _, dst in found.values()) == collections.Counter({d: 2 for _, d in found.values()})
    open(gate, "w").close()
    done = results(futures)
    assert [i for i, _ in done] == list(range(8))
    assert [pid for _, pid in done[:4]] == [cluster.workers[0].pid] * 4
    assert collections.Counter(pid for _, pid in done[4:]) == {second.pid: 2, third.pid: 2}
    client.close()


@pytest.mark.timeout(120)
def test_the_victim_killed_during_a_steal(make_cluster, tmp_path):
    gate = str(tmp_path / "gate")
    # The stopped victim must stay in the cluster while the newcomer joins, which it does once
    # its executors have started (seconds on a loaded machine): a longer heartbeat timeout.
    cluster = make_cluster(workers=1, cpus=2, server_args=["--worker-timeout", "8000"])
    client = Client(*cluster.address)
    first, futures = queue_on_first_worker(client, gate, 4, cpus=2)
    victim = cluster.workers[0]
    victim.send_signal(signal.SIGSTOP)  # it cannot answer the steal
    try:
        late = cluster.add_worker(cpus=1)
        cluster.wait_for_workers(2)
        wait_until(lambda: client.status()["steals"] == 2, timeout=30, what="steals asked of the stalled worker")
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)
    open(gate, "w").close()
    # Every task runs again on the newcomer (the victim's programs died with it), once each.
    assert results(futures) == [(i, late.pid) for i in range(4)]
    wait_until(lambda: len(client.status()["workers"]) == 1, timeout=30, what="the victim dropped")
    assert client.status()["steals"] == 0
    assert not moves(client, futures)  # nothing was given back: recovery placed them again
    client.close()


def wait_for_gate(gate):
    import os
    import time
    while not os.path.exists(gate):
        time.sleep(0.01)
    return "opened"


@pytest.mark.timeout(120)
def test_tasks_queued_behind_a_long_task_move_to_the_idle_worker(make_cluster, tmp_path):
    """Short Python tasks queued behind one that runs on and on (a gate the test holds shut) run
    on the other, idle worker: that queue stopped moving, whatever its recent tasks took."""
    import treadle
    cluster = make_cluster(workers=2, cpus=1)
    client = treadle.Client(cluster.address)
    try:
        assert client.gather(client.map(abs, range(-10, 0))) == list(range(10, 0, -1))  # both executors warm
        gate = str(tmp_path / "gate")
        held = client.submit(wait_for_gate, gate)
        client.flush()
        wait_until(lambda: "running" in repr(held), timeout=30, what="the long task running")
        shorts = [client.submit(abs, -i) for i in range(200)]
        # Before, those placed behind it waited for the gate (the victim's recent tasks were short).
        wait_until(lambda: all(f.done() for f in shorts), timeout=60, interval=0.2, what="every short task done")
        assert [f.result() for f in shorts] == list(range(200))
        assert not held.done()
        open(gate, "w").close()
        assert held.result(timeout=30) == "opened"
    finally:
        client.close()
