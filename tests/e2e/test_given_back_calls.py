"""Calls waiting in an executor's pipe behind a call that turned out long are given back: once a
call of a function known to be short has run 8 times its usual time (and 50 ms), the calls the
worker queued behind it are withdrawn and go back to the worker's queue, for an idle executor or
an idle worker (stealing), rather than wait while cpus idle (docs/architecture.md, "withdrawn
tasks"). Each call runs once; results and failures arrive once."""

import os
import time

import pytest

import treadle
from tests.conftest import wait_until


def step(log, gate, tag, payload=None):
    """Notes its start (and its executor), then waits for ``gate`` (or 5 ms: known short);
    a tag starting with "fail" raises ValueError."""
    with open(log, "a") as f:
        f.write("start {} {}\n".format(tag, os.getpid()))
    if gate is None:
        time.sleep(0.005)
    while gate is not None and not os.path.exists(gate):
        time.sleep(0.01)
    if tag.startswith("fail"):
        raise ValueError(tag)
    return tag if payload is None else (tag, len(payload))


def starts(log):
    """[(tag, executor pid)] in the order they started."""
    with open(log) as f:
        return [(line.split()[1], int(line.split()[2])) for line in f if line.startswith("start ")]


def known_short(client, tmp_path):
    """A function known short (30 calls of 5 ms); returns (log, gate)."""
    log, gate = str(tmp_path / "log"), str(tmp_path / "gate")
    assert list(client.map(step, [log] * 30, [None] * 30, [str(i) for i in range(30)])) == [str(i) for i in range(30)]
    return log, gate


def long_and_short_calls(client, log, gate, tags, *payload):
    """A call that runs until the gate opens and, sent with it, short calls (the worker queues
    some in that call's executor's pipe behind it, as it is of a function known short)."""
    long = client.submit(step, log, gate, "long", *payload)
    return long, [client.submit(step, log, None, tag, *payload) for tag in tags]


def ran_once(log, tags):
    seen = [tag for tag, _ in starts(log)]
    return all(seen.count(t) == 1 for t in tags)


@pytest.mark.timeout(600)
def test_calls_behind_one_that_turned_out_long_run_on_the_idle_executor(make_cluster, tmp_path):
    cluster = make_cluster(workers=1, cpus=2)
    client = treadle.Client(cluster, output=None)
    log, gate = known_short(client, tmp_path)
    shorts = ["s{}".format(i) for i in range(20)]
    long, futures = long_and_short_calls(client, log, gate, shorts)
    # All end while the long call still runs: its gate opens only after them.
    assert client.gather(futures, timeout=240) == shorts
    assert not long.done()
    open(gate, "w").close()
    assert long.result(timeout=240) == "long"
    assert ran_once(log, shorts + ["long"]), starts(log)
    client.close()


@pytest.mark.timeout(600)
def test_failures_among_given_back_calls_arrive_once_with_their_type(make_cluster, tmp_path):
    cluster = make_cluster(workers=1, cpus=2)
    client = treadle.Client(cluster, output=None)
    log, gate = known_short(client, tmp_path)
    tags = ["fail{}".format(i) if i % 5 == 2 else "s{}".format(i) for i in range(20)]
    long, futures = long_and_short_calls(client, log, gate, tags)
    for tag, future in zip(tags, futures):  # all end while the long call runs
        if tag.startswith("fail"):
            with pytest.raises(ValueError, match=tag):
                future.result(timeout=240)
        else:
            assert future.result(timeout=240) == tag
    assert not long.done()
    open(gate, "w").close()
    assert long.result(timeout=240) == "long"
    assert ran_once(log, tags + ["long"]), starts(log)
    client.close()


@pytest.mark.timeout(600)
def test_objects_sent_with_a_given_back_call_stay_usable_on_its_executor(make_cluster, tmp_path):
    """The executor caches the objects a given-back call brought even though it skips the call:
    the worker counts them as sent, and later calls there name them by key only."""
    cluster = make_cluster(workers=1, cpus=2)
    client = treadle.Client(cluster, output=None)
    log, gate = known_short(client, tmp_path)
    payload = client.submit(bytes, 1000)  # a new object: each executor gets it with its first call using it
    assert payload.result(timeout=240) == bytes(1000)
    first = ["a{}".format(i) for i in range(20)]
    long, futures = long_and_short_calls(client, log, gate, first, payload)
    assert client.gather(futures, timeout=240) == [(t, 1000) for t in first]
    open(gate, "w").close()
    assert long.result(timeout=240) == ("long", 1000)
    long_pid = dict(starts(log))["long"]
    then = ["b{}".format(i) for i in range(20)]
    assert client.gather([client.submit(step, log, None, t, payload) for t in then], timeout=240) == \
        [(t, 1000) for t in then]
    assert long_pid in [pid for tag, pid in starts(log) if tag in then], "no later call ran where the long one did"
    assert ran_once(log, first + then + ["long"]), starts(log)
    client.close()


@pytest.mark.timeout(600)
def test_cancels_crossing_a_give_back_lose_nothing(make_cluster, tmp_path):
    """Calls cancelled while they wait behind the long call, are being given back, or were given
    back: the cancelled ones never return a value, the others return theirs, none runs twice."""
    cluster = make_cluster(workers=1, cpus=2)
    client = treadle.Client(cluster, output=None)
    log, gate = known_short(client, tmp_path)
    tags = ["s{}".format(i) for i in range(20)]
    long, futures = long_and_short_calls(client, log, gate, tags)
    client.cancel(futures[1::3])
    for i, (tag, future) in enumerate(zip(tags, futures)):
        if i % 3 == 1:
            with pytest.raises(treadle.TaskCancelled):
                future.result(timeout=240)
        else:
            assert future.result(timeout=240) == tag
    open(gate, "w").close()
    assert long.result(timeout=240) == "long"
    seen = [tag for tag, _ in starts(log)]
    assert all(seen.count(t) <= 1 for t in tags) and seen.count("long") == 1, seen
    assert client.submit(step, log, None, "after").result(timeout=240) == "after"
    client.close()
