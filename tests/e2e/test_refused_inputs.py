"""A native call whose input future was cancelled or released is refused alone: its future
raises at result() (TaskCancelled naming the input, or a ValueError saying it was released),
the healthy calls of its batch run, and the client goes on working (python/treadle/refused_calls.py).
Before, the refused batch went back to the unsent calls and every later call failed with it."""

import concurrent.futures

import pytest

import treadle
from treadle.core.errors import LoomException


def slow(x, gate_path):
    import os
    import time
    while not os.path.exists(gate_path):   # held until the test lets it go: cancelled before that
        time.sleep(0.01)
    return x * 10


def fast(x):
    return x + 100


def pair(a, b):
    return (a, b)


def _cancelled_input(client, how, gate):
    x = client.submit(slow, 7, str(gate))
    if how != "not sent":
        client.flush()
    if how == "client.cancel":
        assert client.cancel([x]).cancelled == 1
    else:
        assert x.cancel() is True
    assert x.cancelled()
    return x


def _batch_around(client, bad_input):
    """A batch: healthy calls before and after the one taking ``bad_input``, and one taking that."""
    with client._lock:   # one batch: the flush timer cannot send the first ones alone
        before = client.submit(fast, 1)
        dependent = client.submit(fast, bad_input)
        after = client.submit(pair, before, 2)
        chained = client.submit(pair, dependent, 3)
    return before, dependent, after, chained


def _client_goes_on(client):
    assert list(client.map(fast, range(4))) == [100, 101, 102, 103]
    assert client.submit(fast, 1).result(timeout=30) == 101


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["Future.cancel", "client.cancel", "not sent"])
def test_a_call_taking_a_cancelled_future_alone_raises_task_cancelled(cluster, tmp_path, how):
    client = treadle.Client(cluster, output=None)
    x = _cancelled_input(client, how, tmp_path / "gate")
    before, dependent, after, chained = _batch_around(client, x)
    expected = r"^input task {} \(slow-0\) was cancelled and cannot be used any more$".format(x.task_id)
    with pytest.raises(treadle.TaskCancelled, match=expected) as raised:
        dependent.result(timeout=30)
    assert isinstance(raised.value, concurrent.futures.CancelledError)
    assert raised.value.task_id == x.task_id and raised.value.label == "slow-0"
    assert dependent.done() and dependent.cancelled() and repr(dependent).endswith(" cancelled>")
    with pytest.raises(treadle.TaskCancelled, match=expected):   # its consumer: the same error
        chained.result(timeout=30)
    assert before.result(timeout=30) == 101 and after.result(timeout=30) == (101, 2)
    with pytest.raises(treadle.TaskCancelled, match=expected):
        client.gather([before, dependent])
    assert set(client.as_completed([before, dependent])) == {before, dependent}
    _client_goes_on(client)
    (tmp_path / "gate").touch()   # should a cancelled slow still run somewhere, it ends
    client.close()


@pytest.mark.timeout(60)
def test_a_call_taking_a_released_future_alone_raises_value_error(cluster):
    client = treadle.Client(cluster, output=None)
    x = client.submit(fast, 1)
    assert x.result(timeout=30) == 101
    x.release()
    before, dependent, after, chained = _batch_around(client, x)
    expected = r"^input task {} \(fast-0\) was released and cannot be used any more".format(x.handle.task_id)
    with pytest.raises(ValueError, match=expected) as raised:
        dependent.result(timeout=30)
    assert isinstance(raised.value, LoomException)
    assert dependent.done() and not dependent.cancelled() and repr(dependent).endswith(" failed>")
    assert str(dependent.exception()) == str(raised.value)
    with pytest.raises(ValueError, match=expected):
        chained.result(timeout=30)
    with pytest.raises(ValueError, match=expected):
        client.wait([dependent])
    assert before.result(timeout=30) == 101 and after.result(timeout=30) == (101, 2)
    # map yields in order up to the refused item, then raises its error
    results = client.map(fast, [5, x, 6])
    assert next(results) == 105
    with pytest.raises(ValueError, match=expected):
        next(results)
    _client_goes_on(client)
    client.close()


@pytest.mark.timeout(60)
def test_hyperloom_refuses_a_cancelled_input_at_submit_saying_cancelled(cluster):
    """HyperLoom's client sends at once: its submit raises, and nothing stays behind."""
    from treadle.loom.client import Client, tasks
    client = Client(*cluster.address)
    running = client.submit_one(tasks.run("sleep 600"))
    assert client.cancel([running]).cancelled == 1
    with pytest.raises(LoomException, match=r"^task {} was cancelled and cannot be used as an input$".format(
            running.task_id)):
        client.submit_one(tasks.merge((running, tasks.const("a"))))
    assert client.submit_one(tasks.merge((tasks.const("x"), tasks.const("y")))).gather() == b"xy"
    client.close()
