"""A Rain session's waits end when its tasks are cancelled through the core client (the way the
kernel's interrupt and %treadle stop cancel them, not through the session): they raise the
session's TaskException naming the cancel and its cause, at once, instead of waiting forever
for a `settled` the server never sends for a cancelled task."""

import threading

import pytest

from tests.conftest import wait_until
from treadle.core.errors import TaskCancelled
from treadle.rain.client import Client, RainException, TaskException, blob, remote, tasks


@remote()
def slow(ctx):
    import time
    time.sleep(600)
    return b"late"


@remote(outputs=["a", "b"])
def slow_pair(ctx):
    import time
    time.sleep(600)
    return {"a": b"1", "b": b"2"}


@pytest.fixture
def rain(make_cluster):
    cluster = make_cluster(workers=2, cpus=1)
    client = Client(*cluster.address)
    yield client, cluster
    client.close()


def _submit_slow(session, count=3, kept=True):
    with session.bind_only():
        ts = [slow() for _ in range(count)]
    if kept:
        for t in ts:
            t.output.keep()
    session.submit()
    return ts


def _assert_cancel_raised(error, task, reason):
    assert isinstance(error, TaskException) and isinstance(error, RainException)
    assert "Task {!r} was cancelled {}".format(task, reason) in str(error), str(error)
    assert isinstance(error.cause, TaskCancelled) and error.cause.reason == reason
    assert error.task is task


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kept", [True, False], ids=["kept", "unkept"])
def test_wait_all_raises_at_once_after_a_cancel_of_the_core_client(rain, kept):
    client, _ = rain
    session = client.new_session()
    ts = _submit_slow(session, kept=kept)
    report = client.core.cancel([t.handle for t in ts], reason="by %treadle stop")
    assert report.cancelled >= 3, report
    with pytest.raises(TaskException) as raised:
        session.wait_all()
    _assert_cancel_raised(raised.value, ts[0], "by %treadle stop")
    # The session failed, as for a failed task: every later call raises the same error.
    with pytest.raises(TaskException) as again:
        session.wait([ts[1]])
    assert again.value is raised.value
    session.close()


@pytest.mark.timeout(60)
def test_wait_of_one_task_and_fetch_raise_the_cancel(rain):
    client, _ = rain
    session = client.new_session()
    ts = _submit_slow(session)
    client.core.cancel([ts[1].handle], reason="by the interrupt of the cell that submitted it")
    with pytest.raises(TaskException) as raised:
        session.wait([ts[1].output])
    _assert_cancel_raised(raised.value, ts[1], "by the interrupt of the cell that submitted it")
    session.close()

    other = client.new_session()
    ts = _submit_slow(other)
    client.core.cancel([ts[0].handle])   # no reason given
    with pytest.raises(TaskException, match=r"was cancelled$") as fetched:
        ts[0].output.fetch()
    assert fetched.value.task is ts[0]
    other.close()


@pytest.mark.timeout(60)
def test_a_cancel_from_another_thread_ends_a_running_wait(rain):
    client, _ = rain
    session = client.new_session()
    ts = _submit_slow(session, count=2)
    outcome = {}

    def wait_all():
        try:
            session.wait_all()
            outcome["returned"] = True
        except BaseException as error:   # what the test checks
            outcome["error"] = error

    waiter = threading.Thread(target=wait_all)
    waiter.start()
    wait_until(lambda: client.core.connection.states([ts[0].task_id]) == ["running"], what="the first task running")
    client.core.cancel([t.handle for t in ts], reason="by a test")
    waiter.join(30)
    assert not waiter.is_alive(), "wait_all still waits after the cancel"
    _assert_cancel_raised(outcome.get("error"), ts[0], "by a test")
    session.close()


@pytest.mark.timeout(60)
def test_a_task_with_several_outputs_and_an_inner_task_end_their_waits(rain):
    client, _ = rain
    session = client.new_session()
    with session.bind_only():
        pair = slow_pair()
        inner = tasks.Sleep(blob("x"), 600)
        reader = tasks.Concat((inner, blob("y")))   # inner: read by reader, so held by nothing
    session.submit()
    client.core.cancel([pair.handle, reader.handle], reason="by %treadle stop")
    with pytest.raises(TaskException) as raised:
        session.wait([pair])
    _assert_cancel_raised(raised.value, pair, "by %treadle stop")
    session.close()

    other = client.new_session()
    with other.bind_only():
        inner = tasks.Sleep(blob("x"), 600)
        reader = tasks.Concat((inner, blob("y")))
    other.submit()
    client.core.cancel([reader.handle], reason="by %treadle stop")
    with pytest.raises(TaskException, match="the tasks that read it were cancelled") as raised:
        other.wait([inner])
    assert raised.value.task is inner
    other.close()
