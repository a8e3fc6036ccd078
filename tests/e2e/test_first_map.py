"""A fresh cluster's first map (docs/architecture.md, "Python executors"): a worker offers its
cpus only once its executors are ready, so a cluster that is up runs its first map at full
speed, with no task waiting on an interpreter that is still starting. Executors that cannot
start do not hold their worker back, and a worker killed while it waits takes them along.

Executors here start slowly on purpose: a `sitecustomize` on their PYTHONPATH (imports from a
slow file system, a loaded host) sleeps, then leaves a file saying it is done.
"""

import collections
import os
import signal
import sys

import cloudpickle
import psutil
import pytest

import treadle
import treadle.trace
from tests.conftest import wait_until
from treadle.loom.client import Client, tasks

cloudpickle.register_pickle_by_value(sys.modules[__name__])

SLOW_START_S = 2.0

SITECUSTOMIZE = """
import os, time
if os.environ.get("TREADLE_TEST_SLOW_START"):
    time.sleep({delay})
    open(os.path.join(os.environ["TREADLE_TEST_SLOW_START"], "started-%d" % os.getpid()), "w").close()
"""


@pytest.fixture
def slow_start(tmp_path, monkeypatch):
    """Executors started from now on take SLOW_START_S longer; returns the folder where each
    leaves `started-PID` once that is over."""
    code = tmp_path / "site"
    code.mkdir()
    (code / "sitecustomize.py").write_text(SITECUSTOMIZE.format(delay=SLOW_START_S))
    done = tmp_path / "started"
    done.mkdir()
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(code), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("TREADLE_TEST_SLOW_START", str(done))
    return done


def executors_of(worker_pid):
    try:
        return [c for c in psutil.Process(worker_pid).children() if "treadle.executor" in " ".join(c.cmdline())]
    except psutil.Error:
        return []


def parent_or_fail(i):
    import os
    import time
    time.sleep(0.03)
    if i % 7 == 3:
        raise ValueError("task {} fails on purpose".format(i))
    return os.getppid()


@pytest.mark.timeout(120)
def test_a_cluster_is_up_only_once_its_executors_are(make_cluster, slow_start):
    cluster = make_cluster(workers=2, cpus=1)
    # Both workers connected means both executors are through their (slow) start.
    assert len(os.listdir(slow_start)) == 2, "the cluster was up before its executors were"


@pytest.mark.timeout(120)
def test_no_task_of_a_first_map_waits_for_an_executor_to_start(make_cluster, slow_start):
    cluster = make_cluster(workers=3, cpus=1)
    workers = {w.pid for w in cluster.workers}
    with treadle.Client(cluster, output=None) as client:
        futures = [client.submit(parent_or_fail, i) for i in range(42)]  # map's plan, with failures kept apart
        client.flush()
        ran_on, failed = collections.Counter(), 0
        for i, f in enumerate(futures):
            if i % 7 == 3:
                with pytest.raises(ValueError, match="fails on purpose"):
                    f.result()
                failed += 1
            else:
                ran_on[f.result()] += 1
        events = [e for e in treadle.trace.events(client)["events"]
                  if e["kind"] == "task" and e.get("label") == "parent_or_fail"]
    assert failed == 6 and set(ran_on) == workers, ran_on
    # Split evenly: no worker took the map while the others' executors were still starting.
    assert min(ran_on.values()) >= 36 / len(workers) / 2, ran_on
    longest = max(e["end_us"] - e["start_us"] for e in events) / 1e6
    assert longest < SLOW_START_S / 2, "a task ran {:.2f} s: it waited for its executor to start".format(longest)


@pytest.mark.timeout(120)
def test_a_worker_killed_while_its_executors_start_takes_them_along(make_cluster, slow_start):
    cluster = make_cluster(workers=1, cpus=1)
    late = cluster.add_worker(cpus=2)
    starting = wait_until(lambda: (lambda e: e if len(e) == 2 else None)(executors_of(late.pid)), timeout=30,
                          what="the new worker's executors starting")
    client = Client(*cluster.address)
    assert len(client.status()["workers"]) == 1  # it waits for its executors before joining
    late.send_signal(signal.SIGKILL)
    late.wait(10)
    gone, alive = psutil.wait_procs(starting, timeout=30)
    assert not alive, "executors outlived their killed worker"
    assert len(client.status()["workers"]) == 1
    assert client.submit_one(tasks.const(b"still serving")).gather() == b"still serving"
    with treadle.Client(cluster, output=None) as native:
        assert sorted(native.gather(native.map(abs, [-1, -2, 3]))) == [1, 2, 3]


@pytest.mark.timeout(120)
def test_executors_that_cannot_start_do_not_hold_their_worker_back(make_cluster):
    # /bin/false exits at once: the worker joins without waiting out its bound; programs run
    # there, and Python tasks fail saying why.
    cluster = make_cluster(workers=1, cpus=1, worker_args=["--python", "/bin/false"], timeout=8)
    client = Client(*cluster.address)
    assert client.submit_one(tasks.run(["echo", "hi"])).gather() == b"hi\n"
    with treadle.Client(cluster, output=None) as native:
        with pytest.raises(Exception, match="executor"):
            native.submit(abs, -1).result()


def wait_for_gate(gate):
    import os
    import time
    while not os.path.exists(gate):
        time.sleep(0.01)
    return os.getppid()


def sleep_for(seconds):
    import time
    time.sleep(seconds)


@pytest.mark.timeout(120)
def test_a_python_task_queued_behind_a_long_one_moves_to_an_idle_worker(make_cluster, tmp_path):
    # An executor keeps a second task in its pipe only behind short tasks: one in the pipe
    # counts as started and could not move.
    gate = str(tmp_path / "gate")
    cluster = make_cluster(workers=1, cpus=1)
    with treadle.Client(cluster, output=None) as client:
        client.submit(sleep_for, 0.3).result()  # the worker learns its tasks are long: it queues one
        held = client.submit(wait_for_gate, gate)
        queued = client.submit(wait_for_gate, str(tmp_path))  # the folder exists: it ends at once
        client.flush()
        wait_until(lambda: (lambda w: w["running"] == 1 and w["queued"] == 1)(client.status()["workers"][0]),
                   timeout=30, what="one task running and one queued on the first worker")
        late = cluster.add_worker(cpus=1)
        try:
            wait_until(queued.done, timeout=30, what="the queued task, moved, ending while the first worker is held")
            assert queued.result() == late.pid
        finally:
            open(gate, "w").close()
        assert held.result() == cluster.workers[0].pid
