"""What a future's repr says is the truth now (docs/python-tasks.md): a task that ended while
its client was not asking reads "finished" or "failed", not "submitted", in the native API and
in SCOOP's futures; with the server gone the repr still returns, with the state the client
knows and that the server did not answer (core.state_now).

The other layers' reprs name their task, not its state (HyperLoom's Future, Rain's Task and
DataObject; IPython's TaskClient hands out integer ids): nothing there to go stale.
"""

import signal
import sys

import cloudpickle

import treadle
from tests.conftest import wait_until
from treadle.scoop import futures as scoop_futures
from treadle.scoop import pool as scoop_pool

# Functions of this module travel by value: the executors cannot import the test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def boom():
    raise ValueError("no")


def held(path):
    """Runs until the file ``path`` exists (a task the test ends when it wants)."""
    import os
    import time
    while not os.path.exists(path):
        time.sleep(0.05)
    return "released"


def ended_as(observer, task_id, state):
    """Waits, through another client (the future's own hears nothing), until the server says
    the task is in ``state``."""
    wait_until(lambda: observer.states([task_id])[0] == state, timeout=30, what="task {} {}".format(task_id, state))


def test_a_native_future_whose_task_ended_unasked_reads_finished_or_failed(make_cluster, make_client):
    cluster = make_cluster(workers=1, cpus=2)
    native = treadle.Client(cluster, output=None)
    observer = make_client(cluster.address)
    try:
        ok = native.submit(int, "5")
        bad = native.submit(boom)
        ended_as(observer, ok.task_id, "finished")
        ended_as(observer, bad.task_id, "failed")
        assert repr(ok).endswith(" finished>"), repr(ok)
        assert repr(bad).endswith(" failed>"), repr(bad)
        assert ok.done() and bad.done()   # what the repr learnt, the client knows
        assert ok.result() == 5
    finally:
        native.close()


def test_a_native_future_running_reads_running(make_cluster, make_client, tmp_path):
    cluster = make_cluster(workers=1, cpus=1)
    native = treadle.Client(cluster, output=None)
    observer = make_client(cluster.address)
    try:
        running = native.submit(held, str(tmp_path / "go"))
        queued = native.submit(int, "1")   # behind it: the worker's one cpu is taken
        ended_as(observer, running.task_id, "running")
        assert repr(running).endswith(" running>"), repr(running)
        assert repr(queued).endswith(" submitted>"), repr(queued)
        (tmp_path / "go").touch()
        assert running.result() == "released"
    finally:
        native.close()


def test_a_native_future_repr_returns_when_the_server_is_gone(make_cluster, tmp_path):
    """The server killed, the client not told (its silence counts after 600 s here): every
    repr returns (a wait for the server's answer would hold the test past its deadline) with
    the known state, and says the server did not answer."""
    cluster = make_cluster(workers=1, cpus=1)
    native = treadle.Client(cluster, output=None, server_timeout=600)
    try:
        futures = [native.submit(held, str(tmp_path / "never")) for _ in range(20)]
        native.flush()
        before = repr(futures[0])   # the server answers: no "unreachable"
        assert before.endswith((" running>", " submitted>")), before
        cluster.server.send_signal(signal.SIGKILL)
        cluster.server.wait()
        shown = repr(futures)
        assert shown.count("submitted, server unreachable") == 20, shown
    finally:
        native.close()


def test_a_scoop_future_whose_task_ended_unasked_reads_finished_or_failed(make_cluster, make_client, monkeypatch):
    cluster = make_cluster(workers=1, cpus=2)
    monkeypatch.setenv("TREADLE_ADDRESS", "{}:{}".format(*cluster.address))
    observer = make_client(cluster.address)
    try:
        ok = scoop_futures.submit(int, "7")
        bad = scoop_futures.submit(boom)
        ended_as(observer, ok.handle.task_id, "finished")
        ended_as(observer, bad.handle.task_id, "failed")
        assert repr(ok).endswith(" finished>"), repr(ok)
        assert repr(bad).endswith(" failed>"), repr(bad)
        assert ok.result() == 7
    finally:
        scoop_pool.close()
