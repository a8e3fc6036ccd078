"""A future whose task its client cancelled is done, and waiting on it raises TaskCancelled (a
concurrent.futures.CancelledError naming the task and what cancelled it), in the native API and
HyperLoom's, never hangs and never says "released" (docs/python-tasks.md, ``client.cancel``).
The kernel's interrupt and %treadle stop cancel this way: tests/kernel/test_kernel_cancelled_state.py."""

import concurrent.futures
import time

import pytest

import treadle
from treadle.loom.client import Client, LoomException, tasks


@pytest.mark.timeout(60)
def test_a_cancelled_native_future_is_done_and_raises_cancelled(cluster):
    client = treadle.Client(cluster, output=None)
    futures = [client.submit(time.sleep, 600) for _ in range(3)]
    report = client.cancel(futures[1:], reason="by this test")
    assert report.cancelled == 2, report
    assert [f.done() for f in futures] == [False, True, True]
    with pytest.raises(concurrent.futures.CancelledError) as raised:
        futures[1].result()
    assert isinstance(raised.value, treadle.TaskCancelled) and isinstance(raised.value, LoomException)
    assert str(raised.value) == "task {} (sleep-1) was cancelled by this test".format(futures[1].task_id)
    assert raised.value.reason == "by this test" and raised.value.task_id == futures[1].task_id
    with pytest.raises(treadle.TaskCancelled):
        client.gather(futures[1:], timeout=30)   # at once, not after the timeout
    with pytest.raises(treadle.TaskCancelled):
        client.wait(futures[2:])
    assert list(client.as_completed(futures[1:])) == futures[1:]   # they have ended
    assert repr(futures[2]).endswith(" cancelled>")
    client.cancel(futures[:1])   # without a reason
    with pytest.raises(treadle.TaskCancelled, match=r"^task \d+ \(sleep-0\) was cancelled$"):
        futures[0].exception()   # as concurrent.futures: raises, rather than returns, a cancel
    client.close()


@pytest.mark.timeout(60)
def test_a_cancelled_hyperloom_future_says_so(cluster):
    client = Client(*cluster.address)
    running, kept = client.submit([tasks.run("sleep 600"), tasks.const("kept")])
    kept.wait()
    assert client.cancel([running, kept]) == (1, 1)
    assert running.cancelled() and running.released() and not kept.cancelled()
    with pytest.raises(concurrent.futures.CancelledError, match=r"^task \d+ was cancelled$"):
        running.wait()
    with pytest.raises(treadle.TaskCancelled):
        client.gather([running])
    assert kept.gather() == b"kept"
    client.close()


@pytest.mark.timeout(60)
def test_a_native_future_cancels_itself_as_in_concurrent_futures(cluster):
    """``f.cancel()`` / ``f.cancelled()``, as concurrent.futures has them: cancel() is True once the
    future is cancelled (again True if asked again) and False for one that has ended, whose result
    stays; result() then raises what client.cancel makes it raise (TaskCancelled)."""
    client = treadle.Client(cluster, output=None)
    finished = client.submit(abs, -7)
    assert finished.result() == 7
    running = client.submit(time.sleep, 600)
    unsent = client.submit(time.sleep, 601)   # still in the client's batch when cancelled
    assert not running.cancelled()
    assert running.cancel() is True
    assert running.cancelled() and running.done()
    assert running.cancel() is True            # already cancelled: as concurrent.futures says
    assert unsent.cancel() is True and unsent.cancelled()
    for f in (running, unsent):
        with pytest.raises(concurrent.futures.CancelledError) as raised:
            f.result()
        assert isinstance(raised.value, treadle.TaskCancelled)
        assert str(raised.value) == "task {} ({}) was cancelled".format(f.task_id, f.key)
    assert finished.cancel() is False and not finished.cancelled()
    assert finished.result() == 7
    client.close()
