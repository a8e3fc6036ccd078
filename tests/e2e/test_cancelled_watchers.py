"""A cancelled task is an end its watchers hear of: the server answers a `watch` with it in
`settled`'s `cancelled` list and forgets the watcher, and refuses a wait or fetch that waited on
it (code "cancelled"), so no entry outlives its task (status counts them: `watched`,
`awaited`). A Rain wait on another thread ends as soon as the server says so, not at its next
poll of the handles."""

import threading
import time

import pytest

from tests.conftest import wait_until
from treadle.core.errors import TaskCancelled
from treadle.loom.client import tasks
from treadle.rain.client import Client as RainClient, TaskException, remote


def _entries(client):
    status = client.status()
    return status["watched"], status["awaited"]


def _sleepers(client, count):
    futures = client.submit([tasks.sleep(600) for _ in range(count)])
    wait_until(lambda: "running" in client.states(futures), timeout=30, what="a sleep running")
    return futures


@pytest.mark.timeout(60)
def test_watchers_of_cancelled_tasks_hear_it_and_are_forgotten(make_cluster, make_client):
    cluster = make_cluster(workers=1, cpus=1)
    client = make_client(cluster.address)
    assert _entries(client) == (0, 0)
    for round_ in range(3):   # the count comes back to 0 each time: it does not grow
        futures = _sleepers(client, 4)
        ids = [f.task_id for f in futures]
        client.connection.watch(ids)
        wait_until(lambda: _entries(client)[0] == 4, what="4 watched tasks")
        client.cancel(futures[:2])
        heard = set()

        def cancels_heard():
            heard.update(client.connection.settled(0.05)[2])
            return heard
        wait_until(lambda: cancels_heard() == set(ids[:2]), what="the cancels told")
        assert _entries(client)[0] == 2
        # A release (not when done) cancels what nobody else needs: told the same way.
        client.release(futures[2:])
        wait_until(lambda: cancels_heard() == set(ids), what="the releases told")
        assert _entries(client) == (0, 0), round_


@pytest.mark.timeout(60)
def test_a_wait_on_a_task_cancelled_by_another_thread_raises_its_cancel(make_cluster, make_client):
    cluster = make_cluster(workers=1, cpus=1)
    client = make_client(cluster.address)
    futures = _sleepers(client, 2)
    outcome = {}

    def wait():
        try:
            client.wait(futures)
            outcome["returned"] = True
        except BaseException as error:   # what the test checks
            outcome["error"] = error

    waiter = threading.Thread(target=wait)
    waiter.start()
    wait_until(lambda: _entries(client)[1] == 2, what="the wait's 2 tasks awaited on the server")
    client.cancel(futures[1:], reason="by a test")
    waiter.join(30)
    assert not waiter.is_alive(), "the wait still waits after the cancel"
    error = outcome.get("error")
    assert isinstance(error, TaskCancelled), outcome
    assert error.task_id == futures[1].task_id and error.reason == "by a test"
    client.cancel(futures[:1])   # the other task the wait named: its entry goes when it ends
    wait_until(lambda: _entries(client) == (0, 0), what="no entries left")


@remote()
def slow(ctx):
    import time
    time.sleep(600)
    return b"late"


@pytest.mark.timeout(60)
def test_a_rain_wait_ends_at_once_when_another_thread_cancels(make_cluster):
    cluster = make_cluster(workers=1, cpus=1)
    client = RainClient(*cluster.address)
    try:
        session = client.new_session()
        with session.bind_only():
            ts = [slow() for _ in range(2)]
        session.submit()
        outcome = {}

        def wait_all():
            try:
                session.wait_all()
                outcome["returned"] = True
            except BaseException as error:   # what the test checks
                outcome["error"] = error
            outcome["ended"] = time.monotonic()

        waiter = threading.Thread(target=wait_all)
        waiter.start()
        wait_until(lambda: "running" in client.core.states([t.handle for t in ts]), timeout=30,
                   what="a task running")
        # The wait polls the server (poll_settled, up to 1 s at a time); a cancel made between
        # two polls used to be seen only at the next one.
        cancelled_at = time.monotonic()
        client.core.cancel([t.handle for t in ts], reason="by a test")
        waiter.join(30)
        assert not waiter.is_alive(), "wait_all still waits after the cancel"
        error = outcome.get("error")
        assert isinstance(error, TaskException), outcome
        assert "was cancelled by a test" in str(error) and isinstance(error.cause, TaskCancelled)
        took = outcome["ended"] - cancelled_at
        print("rain wait ended {:.3f} s after the cancel".format(took))
        assert took < 0.9, took   # well under the poll's 1 s, with room for a loaded machine
        session.close()
        assert client.core.connection.status()["watched"] == 0
    finally:
        client.close()
