"""A task all of whose futures were released while another task still needs it goes on running
(its consumer holds it); whoever waited on it or watched it from before the release hears how it
ended, finished or failed, as a cancelled task's watchers hear of its cancel, and the server's
entries go (status's `watched` and `awaited` back to 0). Native API; a real server, 2 workers,
a healthy task beside, a failing one, a worker killed."""

import os
import signal
import sys
import threading

import cloudpickle
import pytest

import treadle
from tests.conftest import wait_until

# Functions of this module travel by value: the executors cannot import the test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def gated(path, value):
    """Runs until ``path`` exists, then returns ``value`` (raises the user's KeyError for None)."""
    import os
    import time
    while not os.path.exists(path):
        time.sleep(0.01)
    if value is None:
        raise KeyError("no value behind the gate")
    return value


def plus_one(x):
    return x + 1


def _entries(client):
    status = client.status()
    return status["watched"], status["awaited"]


def _worker_running(client, task_id):
    """The pid of the worker running task ``task_id`` (its name is host:pid), or None."""
    for w in client.core.connection.status(ids=True)["workers"]:
        if task_id in w["task_ids"]:
            return int(w["name"].rsplit(":", 1)[1])
    return None


def _released_but_needed(client, tmp_path, value):
    """A gated task, running, with a consumer that needs it and a healthy call beside."""
    gate = str(tmp_path / "gate")
    source = client.submit(gated, gate, value)
    consumer = client.submit(plus_one, source)
    healthy = client.submit(plus_one, 1)
    wait_until(lambda: client.core.states([source.task_id]) == ["running"], timeout=30, what="the gated task running")
    return gate, source, consumer, healthy


def _in_thread(fn):
    outcome = {}

    def run():
        try:
            outcome["value"] = fn()
        except BaseException as error:   # what the test checks
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


@pytest.mark.timeout(120)
@pytest.mark.parametrize("end", ["finishes", "fails", "worker killed"])
def test_a_wait_from_before_the_release_hears_the_end(make_cluster, tmp_path, end):
    cluster = make_cluster(workers=2, cpus=1)
    client = treadle.Client(cluster.address, output=None)
    try:
        gate, source, consumer, healthy = _released_but_needed(client, tmp_path, None if end == "fails" else 41)
        assert healthy.result() == 2
        waiter, outcome = _in_thread(source.result)
        wait_until(lambda: _entries(client)[1] == 1, what="the wait's task awaited on the server")
        source.release()   # another thread lets go of the future; the consumer still needs its task
        assert client.core.states([source.task_id]) == ["running"]   # (the release went before this ask)
        if end == "worker killed":   # run again elsewhere: the consumer needs it
            pid = _worker_running(client, source.task_id)
            victim = next(w for w in cluster.workers if w.pid == pid)
            victim.send_signal(signal.SIGKILL)
            victim.wait(10)
            wait_until(lambda: len(client.status()["workers"]) == 1, timeout=30, what="the worker lost")
        open(gate, "w").close()
        waiter.join(60)
        assert not waiter.is_alive(), "the wait on the released task never heard its end"
        if end == "fails":
            assert isinstance(outcome.get("error"), KeyError), outcome   # the user's own exception type
            with pytest.raises(KeyError):
                consumer.result()
        else:
            assert outcome == {"value": 41}, outcome
            assert consumer.result() == 42
        wait_until(lambda: _entries(client) == (0, 0), what="no watched or awaited task left")
    finally:
        client.close()


@pytest.mark.timeout(120)
def test_as_completed_hears_the_end_of_a_released_future(make_cluster, tmp_path):
    cluster = make_cluster(workers=2, cpus=1)
    client = treadle.Client(cluster.address, output=None)
    try:
        gate, source, consumer, healthy = _released_but_needed(client, tmp_path, 41)
        waiter, outcome = _in_thread(lambda: [f.key for f in client.as_completed([source, healthy])])
        wait_until(lambda: _entries(client)[0] == 1, what="the gated task watched on the server")
        source.release()
        assert client.core.states([source.task_id]) == ["running"]
        open(gate, "w").close()
        waiter.join(60)
        assert not waiter.is_alive(), "as_completed never heard the released task end"
        assert sorted(outcome["value"]) == sorted([source.key, healthy.key]), outcome
        assert consumer.result() == 42
        wait_until(lambda: _entries(client) == (0, 0), what="no watched or awaited task left")
    finally:
        client.close()
