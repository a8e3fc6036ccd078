"""cpus() requests: where tasks may run, and how many run side by side on one worker."""

import json
import re

import pytest

from tests.conftest import assert_serving, wait_until
from treadle.loom.client import Client, TaskFailed, tasks

# Prints where it ran (the worker's directory holds "worker-<pid>") and when, around a sleep.
PROBE = ("/usr/bin/python3", "-c",
         "import json, os, sys, time; s = time.time(); time.sleep(float(sys.argv[1])); "
         "print(json.dumps({'cwd': os.getcwd(), 'start': s, 'end': time.time()}))")


def probe(seconds, cpus):
    return tasks.run(PROBE + (str(seconds),), request=tasks.cpus(cpus) if cpus else None)


def worker_pid(record):
    return int(re.search(r"worker-(\d+)", record["cwd"]).group(1))


def max_overlap(records):
    """The largest number of records whose [start, end) intervals overlap at one moment."""
    events = sorted([(r["start"], 1) for r in records] + [(r["end"], -1) for r in records])
    now = best = 0
    for _, step in events:
        now += step
        best = max(best, now)
    return best


def run_probes(client, probes):
    return [json.loads(r) for r in client.gather(client.submit(probes))]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """One worker with 1 cpu and one with 4."""
    import treadle
    folder = tmp_path_factory.mktemp("resources")
    with treadle.local_cluster(workers=0, worker_args=["--workdir", str(folder)]) as cluster:
        small = cluster.add_worker(cpus=1)
        big = cluster.add_worker(cpus=4)
        cluster.wait_for_workers(2)
        client = Client(*cluster.address)
        yield cluster, client, small.pid, big.pid
        client.close()


@pytest.mark.timeout(60)
def test_cpus4_tasks_run_only_on_the_4cpu_worker_one_at_a_time(mixed):
    cluster, client, small, big = mixed
    records = run_probes(client, [probe(0.3, 4) for _ in range(4)])
    assert {worker_pid(r) for r in records} == {big}
    assert max_overlap(records) == 1


@pytest.mark.timeout(60)
def test_cpus2_tasks_run_two_at_a_time_on_the_4cpu_worker(mixed):
    cluster, client, small, big = mixed
    records = run_probes(client, [probe(0.4, 2) for _ in range(6)])
    assert {worker_pid(r) for r in records} == {big}
    assert max_overlap(records) == 2


@pytest.mark.timeout(60)
def test_cpus1_tasks_fill_both_workers_within_their_cpus(mixed):
    cluster, client, small, big = mixed
    records = run_probes(client, [probe(0.4, 1) for _ in range(15)])
    by_worker = {}
    for r in records:
        by_worker.setdefault(worker_pid(r), []).append(r)
    assert set(by_worker) == {small, big}, "both workers should take 1-cpu tasks"
    assert max_overlap(by_worker[small]) == 1
    assert 2 <= max_overlap(by_worker[big]) <= 4


@pytest.mark.timeout(60)
def test_light_tasks_run_while_all_cpus_are_taken(mixed):
    cluster, client, small, big = mixed
    heavy = client.submit([probe(4.0, 4), probe(4.0, 1)])   # long enough for the light ones on a loaded machine
    wait_until(lambda: client.status()["states"]["running"] == 2, timeout=30, what="the heavy tasks running")
    light = client.submit([tasks.merge((tasks.sleep(0.2, tasks.const(str(i))), tasks.const("!"))) for i in range(20)])
    assert client.gather(light) == [str(i).encode() + b"!" for i in range(20)]
    # the light ones did not wait for the cpus: they ended while a heavy one still ran
    assert client.status()["states"]["running"] >= 1, "light tasks waited for the cpus"
    client.gather(heavy)


@pytest.mark.timeout(30)
def test_request_larger_than_any_worker_fails(make_cluster):
    cluster = make_cluster(workers=2, cpus=2)
    client = Client(*cluster.address)
    t = tasks.run("/bin/echo never")
    t.resource_request = tasks.cpus(4)
    with pytest.raises(TaskFailed) as info:
        client.submit_one(t).gather()
    assert "4 cpus" in str(info.value)
    # what depends on it fails too, naming it; light and fitting tasks are fine
    big = tasks.run("/bin/echo never", request=tasks.cpus(3))
    with pytest.raises(TaskFailed) as info:
        client.submit_one(tasks.merge((big, tasks.const("x")))).gather()
    assert "3 cpus" in str(info.value)
    assert client.submit_one(tasks.run("/bin/echo fits", request=tasks.cpus(2))).gather() == b"fits\n"
    assert client.submit_one(tasks.merge((tasks.const("light"),))).gather() == b"light"
    assert_serving(client, workers=2)
    client.close()


@pytest.mark.timeout(30)
def test_new_worker_takes_work(make_cluster, tmp_path):
    cluster = make_cluster(workers=1, cpus=1, worker_args=["--workdir", str(tmp_path)])
    client = Client(*cluster.address)
    first = cluster.workers[0].pid
    futures = client.submit([probe(0.3, 1) for _ in range(12)])
    late = cluster.add_worker(cpus=1)
    records = [json.loads(r) for r in client.gather(futures)]
    assert {worker_pid(r) for r in records} == {first, late.pid}, "the late worker got no work"
    client.close()
