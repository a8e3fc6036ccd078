"""What a future's repr says is the truth now (docs/python-tasks.md): a task that ended while
its client was not asking reads "finished" or "failed", not "submitted", in the native API and
in SCOOP's futures; a released native future reads "released"; with the server gone or
stalled the repr still returns, with the server's last word on that task and its age (else
the state the client knows) and that the server did not answer (core.state_now).

The other layers' reprs name their task, not its state (HyperLoom's Future, Rain's Task and
DataObject; IPython's TaskClient hands out integer ids): nothing there to go stale.
"""

import glob
import re
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


def stopped(pid):
    """True once every thread of ``pid`` is stopped (SIGSTOP takes effect as each one runs)."""
    states = []
    for stat in glob.glob("/proc/{}/task/*/stat".format(pid)):
        with open(stat) as f:
            states.append(f.read().rsplit(")", 1)[1].split()[0])
    return bool(states) and all(state in "Tt" for state in states)


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


def test_a_native_future_repr_returns_when_the_server_is_gone(make_cluster, make_client, tmp_path):
    """The server killed, the client not told (its silence counts after 600 s here): every
    repr returns (a wait for the server's answer would hold the test past its deadline) with
    the server's last word on that task and its age, else the known state, and says the server
    did not answer."""
    cluster = make_cluster(workers=1, cpus=1)
    native = treadle.Client(cluster, output=None, server_timeout=600)
    observer = make_client(cluster.address)
    try:
        futures = [native.submit(held, str(tmp_path / "never")) for _ in range(20)]
        ended_as(observer, futures[0].task_id, "running")
        before = repr(futures[0])   # the server answers: no "unreachable"
        assert before.endswith(" running>"), before
        cluster.server.send_signal(signal.SIGKILL)
        cluster.server.wait()
        shown = [repr(f) for f in futures]
        assert re.search(r" running \(last heard [0-9.]+ s ago\), server unreachable>$", shown[0]), shown[0]
        assert all(s.endswith(" submitted, server unreachable>") for s in shown[1:]), shown   # never asked
    finally:
        native.close()


def test_a_released_native_future_reads_released(make_cluster):
    """The client let go of the result (release()): its repr says so, not "finished"; a failed
    one stays "failed"."""
    cluster = make_cluster(workers=1, cpus=2)
    native = treadle.Client(cluster, output=None)
    try:
        ok, bad = native.submit(int, "5"), native.submit(boom)
        assert ok.result() == 5 and isinstance(bad.exception(), ValueError)
        assert repr(ok).endswith(" finished>"), repr(ok)
        ok.release()
        bad.release()
        assert repr(ok).endswith(" released>"), repr(ok)
        assert repr(bad).endswith(" failed>"), repr(bad)
        unasked = native.submit(int, "6")
        ended_as_finished = native.submit(sum, [unasked])   # known to have ended only by the server
        assert ended_as_finished.result() == 6
        unasked.release()                                    # never waited on, never shown: the server says
        assert repr(unasked).endswith(" released>"), repr(unasked)
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


def test_a_scoop_future_repr_keeps_the_servers_last_word_while_it_does_not_answer(make_cluster, make_client,
                                                                                    monkeypatch, tmp_path):
    """The server stopped (SIGSTOP: a stall) after it said the task runs: the repr says so, with
    its age, and that the server did not answer; resumed, the future ends as usual."""
    cluster = make_cluster(workers=1, cpus=1)
    monkeypatch.setenv("TREADLE_ADDRESS", "{}:{}".format(*cluster.address))
    observer = make_client(cluster.address)
    try:
        running = scoop_futures.submit(held, str(tmp_path / "go"))
        ended_as(observer, running.handle.task_id, "running")
        assert repr(running).endswith(" running>"), repr(running)
        cluster.server.send_signal(signal.SIGSTOP)
        try:
            wait_until(lambda: stopped(cluster.server.pid), what="the server stopped")   # not just signalled
            shown = repr(running)
        finally:
            cluster.server.send_signal(signal.SIGCONT)
        assert re.search(r" running \(last heard [0-9.]+ s ago\), server unreachable>$", shown), shown
        (tmp_path / "go").touch()
        assert running.result() == "released"
    finally:
        scoop_pool.close()
