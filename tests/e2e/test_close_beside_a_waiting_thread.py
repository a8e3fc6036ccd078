"""Closing a client while another of the program's threads is inside one of its calls: the
call raises the layer's own error ("the connection is closed") and the program carries on.

The engine's connection object was freed under the waiting call, and the program died with a
segmentation fault (found when a Rain session's wait in a thread outlived its test's client).
Each scenario runs in a program of its own, so a crash fails its test, not the whole run."""

import pytest

from tests.conftest import run_script

PRELUDE = """
import sys, threading, time
import treadle

def inside(thread, name):
    # True once `thread` is inside a function called `name` (it has started the call).
    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        if frame.f_code.co_name == name:
            return True
        frame = frame.f_back
    return False

def outcome_of(call, into):
    try:
        call()
        into.append("returned")
    except BaseException as e:
        into.append("{}.{}: {}".format(type(e).__module__, type(e).__name__, e))

def sleep_a_minute():
    import time
    time.sleep(60)
"""


def _run(body):
    result = run_script(PRELUDE + body, timeout=120)
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr[-3000:])
    return result.stdout.splitlines()


@pytest.mark.timeout(150)
def test_a_wait_for_events_ends_with_an_error_when_another_thread_closes():
    lines = _run("""
from treadle.core.connection import Connection
with treadle.local_cluster(workers=1, cpus=1) as cluster:
    for round in range(10):
        conn = Connection(*cluster.address)
        out = []
        t = threading.Thread(target=outcome_of, args=(lambda: conn.settled(timeout=60), out))
        t.start()
        while not inside(t, "settled"):
            time.sleep(0.001)
        conn.close()
        t.join(30)
        print("alive" if t.is_alive() else out[0], flush=True)
""")
    assert lines == ["treadle.core.errors.LoomException: the connection is closed"] * 10


@pytest.mark.timeout(150)
def test_calls_racing_a_close_fail_with_the_closed_error():
    lines = _run("""
from treadle.core.connection import Connection
with treadle.local_cluster(workers=1, cpus=1) as cluster:
    for round in range(20):
        conn = Connection(*cluster.address)
        out = []
        def hammer():
            outcome_of(lambda: [conn.states([1]) for _ in iter(int, 1)], out)
        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        conn.close()
        for t in threads:
            t.join(30)
        print(" | ".join(sorted(set(out))) if not any(t.is_alive() for t in threads) else "alive", flush=True)
""")
    assert len(lines) == 20
    allowed = {"treadle.core.errors.LoomException: the connection is closed",
               "treadle.core.errors.LoomException: the client is closed"}
    for line in lines:
        assert set(line.split(" | ")) <= allowed, line


@pytest.mark.timeout(150)
def test_a_result_and_a_rain_wait_in_a_thread_raise_their_layers_error_at_close():
    lines = _run("""
from treadle.rain.client import Client as RainClient, remote

@remote()
def rain_sleep(ctx):
    import time
    time.sleep(60)
    return b"late"

with treadle.local_cluster(workers=1, cpus=1) as cluster:
    client = treadle.Client(cluster, output=None)
    future = client.submit(sleep_a_minute)
    out = []
    t = threading.Thread(target=outcome_of, args=(future.result, out))
    t.start()
    while not inside(t, "_call"):
        time.sleep(0.001)
    client.close()
    t.join(30)
    print("alive" if t.is_alive() else out[0], flush=True)

    rain = RainClient(*cluster.address)
    session = rain.new_session()
    with session.bind_only():
        task = rain_sleep()
    task.output.keep()
    session.submit()
    out = []
    t = threading.Thread(target=outcome_of, args=(session.wait_all, out))
    t.start()
    while not inside(t, "_call"):
        time.sleep(0.001)
    rain.close()
    t.join(30)
    print("alive" if t.is_alive() else out[0], flush=True)

    # The cluster serves a new client as before.
    again = treadle.Client(cluster, output=None)
    print(again.submit(len, "four").result(), flush=True)
    again.close()
""")
    assert lines == ["treadle.core.errors.LoomException: the connection is closed",
                     "treadle.rain.common.errors.RainException: the connection is closed",
                     "4"]
