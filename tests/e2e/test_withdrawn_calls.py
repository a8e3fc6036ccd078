"""A call that waits in an executor's pipe behind a running one (a function known to be short
has two in flight per executor) is withdrawn when it is cancelled: it never runs, and the call
running in front of it, its executor and an IPython engine's namespace are left alone
(docs/architecture.md, "Python executors"; docs/protocol.md, `withdraw`)."""

import os
import signal
import time

import psutil
import pytest

import treadle
from tests.conftest import wait_until
from treadle.ipython import client as ipython
from treadle.loom.client import Client, tasks


def step(log, gate, tag):
    """Notes its start (and its executor), then waits for ``gate`` (or 5 ms: known short)."""
    with open(log, "a") as f:
        f.write("start {} {}\n".format(tag, os.getpid()))
    if gate is None:
        time.sleep(0.005)
    while gate is not None and not os.path.exists(gate):
        time.sleep(0.01)
    return tag


def starts(log):
    """[(tag, executor pid)] in the order they started."""
    with open(log) as f:
        return [(line.split()[1], int(line.split()[2])) for line in f if line.startswith("start ")]


def queued(client):
    """Tasks the server sent to workers that have not started: one waits in a pipe."""
    return sum(w["queued"] for w in client.status()["workers"])


def executors_of(cluster):
    pids = set()
    for w in cluster.workers:
        for p in psutil.Process(w.pid).children():
            try:
                if "treadle.executor" in " ".join(p.cmdline()):
                    pids.add(p.pid)
            except psutil.Error:
                pass
    return pids


def caught_up(cluster):
    """Returns once the workers handled what the server sent them so far (a cancel): a light
    task sent now runs after it, beside the busy cpus."""
    probe = Client(*cluster.address)
    try:
        assert probe.submit_one(tasks.merge((tasks.const("caught "), tasks.const("up")))).gather() == b"caught up"
    finally:
        probe.close()


def short_then_waiting_behind_long(client, tmp_path):
    """A known-short function, a call of it that runs until the gate opens, and one that waits
    in the pipe behind it; returns (log, gate, long, waiting)."""
    log, gate = str(tmp_path / "log"), str(tmp_path / "gate")
    assert list(client.map(step, [log] * 30, [None] * 30, range(30))) == list(range(30))
    long = client.submit(step, log, gate, "long")
    wait_until(lambda: ("long" in dict(starts(log))), what="the long call running")
    waiting = client.submit(step, log, None, "waiting")
    wait_until(lambda: queued(client) == 1, what="the short call sent behind it")
    return log, gate, long, waiting


@pytest.mark.timeout(90)
def test_a_cancelled_call_waiting_in_the_pipe_never_runs_and_the_running_one_runs_on(make_cluster, tmp_path):
    cluster = make_cluster(workers=1, cpus=1)
    client = treadle.Client(cluster, output=None)
    log, gate, long, waiting = short_then_waiting_behind_long(client, tmp_path)
    assert client.cancel([waiting]).cancelled == 1
    with pytest.raises(treadle.TaskCancelled):
        waiting.result()
    caught_up(cluster)   # the worker withdrew it while the long call still runs
    open(gate, "w").close()
    assert long.result(timeout=60) == "long"
    assert client.submit(step, log, None, "after").result(timeout=60) == "after"
    ran = starts(log)
    tags = [tag for tag, _ in ran]
    assert tags.count("long") == 1 and "waiting" not in tags, ran
    assert dict(ran)["after"] == dict(ran)["long"], "the executor was replaced: {}".format(ran)
    client.close()


@pytest.mark.timeout(90)
def test_aborting_a_waiting_ipython_task_keeps_the_engines_namespace(make_cluster, tmp_path):
    cluster = make_cluster(workers=1, cpus=1)
    status = treadle.Client(cluster, output=None)
    tc, mec = ipython.TaskClient(cluster.address), ipython.MultiEngineClient(cluster.address)
    mec.push({"model": "trained"})
    warm = [tc.run(ipython.Task("import time; time.sleep(0.005); a = {}".format(i), pull="a")) for i in range(30)]
    tc.barrier(warm)
    runs, gate = tmp_path / "runs", tmp_path / "gate"
    long = tc.run(ipython.Task("import os, time\nopen({!r}, 'a').write('start\\n')\nwhile not os.path.exists({!r}):\n"
                               "    time.sleep(0.01)\na = 'long'".format(str(runs), str(gate)), pull="a"))
    wait_until(runs.exists, what="the long task running")
    waiting = tc.run(ipython.Task("open({!r}, 'a').write('waiting\\n'); a = 'waiting'".format(str(runs)), pull="a"))
    wait_until(lambda: queued(status) == 1, what="the short task sent behind it")
    waiting_id = tc._record(waiting).handle.task_id   # (the server's id of the IPython task)
    tc.abort(waiting)
    wait_until(lambda: status.core.states([waiting_id])[0] == "cancelled", what="the abort at the server")
    caught_up(cluster)
    gate.touch()
    tc.barrier([long])
    assert tc.get_task_result(long).ns.a == "long"
    assert mec.pull("model") == ["trained"]   # (one per engine)
    assert runs.read_text() == "start\n"   # the long one ran once, the aborted one never
    mec.close()
    tc.close()
    status.close()


def tiny(i):
    time.sleep(0.0003)   # well under a millisecond: several to a pipe, replies in batches
    return i, os.getpid()


@pytest.mark.timeout(120)
def test_cancelling_tiny_calls_among_others_keeps_the_executors(make_cluster):
    cluster = make_cluster(workers=1, cpus=2)
    client = treadle.Client(cluster, output=None)
    assert [i for i, _ in client.map(tiny, range(2000))] == list(range(2000))  # known tiny
    executors = executors_of(cluster)
    assert len(executors) == 2
    for _ in range(3):
        futures = [client.submit(tiny, i) for i in range(3000)]
        assert futures[100].result(timeout=60)[0] == 100
        client.cancel(futures[1::2])   # among them calls in the pipes, and calls running
        assert [f.result(timeout=60)[0] for f in futures[::2]] == list(range(0, 3000, 2))
        results = client.map(tiny, range(3000), window=64)   # a map that stops early
        assert [next(results)[0] for _ in range(100)] == list(range(100))
        results.close()
    assert [i for i, _ in client.map(tiny, range(500))] == list(range(500))
    assert executors_of(cluster) == executors, "an executor was replaced"
    client.close()


@pytest.mark.timeout(120)
def test_a_worker_killed_while_a_withdrawal_is_answered_loses_nothing(make_cluster, tmp_path):
    cluster = make_cluster(workers=1, cpus=1)
    client = treadle.Client(cluster, output=None)
    log, gate, long, waiting = short_then_waiting_behind_long(client, tmp_path)
    assert client.cancel([waiting]).cancelled == 1   # withdrawn: answered when the long call ends
    victim = cluster.workers[0]
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    cluster.add_worker(cpus=1)
    wait_until(lambda: [tag for tag, _ in starts(log)].count("long") == 2, timeout=60,
               what="the long call run again on the new worker")
    open(gate, "w").close()
    assert long.result(timeout=60) == "long"
    with pytest.raises(treadle.TaskCancelled):
        waiting.result()
    assert client.submit(step, log, None, "after").result(timeout=60) == "after"
    assert "waiting" not in [tag for tag, _ in starts(log)], starts(log)
    client.close()
