"""Releases go to the server in batches (engine/client/connection.cpp): a client that drops
10,000 futures one by one sends a few messages, each before the client's next other message.
What they release is freed as before: across a close, an exit, a killed worker, a call that
still needs a released result, and two clients."""

import contextlib
import os
import signal
import sys
import textwrap
import threading

import cloudpickle
import pytest

import treadle
from tests.conftest import assert_serving, run_script, wait_until
from tests.e2e.test_security import fake_server, pack, unpack  # noqa: F401 (a fixture)
from treadle.core.connection import Connection
from treadle.loom.client import Client, tasks

zmq = pytest.importorskip("zmq")

# Functions of this module travel by value: the executors cannot import the test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@contextlib.contextmanager
def playing_the_server(router, heard):
    """Answers one client on ``router`` (welcome, heartbeats, ``done`` to a wait) and appends
    every other header it sends to ``heard``, until the block ends."""
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            if not router.poll(20):
                continue
            routing, head = router.recv_multipart()[:2]
            header = unpack(head)
            if header["op"] == "hello":
                router.send_multipart([routing, pack({"op": "welcome", "id": 0, "server": "fake", "req": header["req"]})])
            elif header["op"] == "hb":
                router.send_multipart([routing, pack({"op": "hb"})])
            else:
                heard.append(header)
                if header["op"] == "wait":
                    router.send_multipart([routing, pack({"op": "done", "req": header["req"]})])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)


@pytest.mark.timeout(60)
def test_releases_one_at_a_time_go_as_a_few_messages(fake_server):
    router, port = fake_server
    heard = []
    with playing_the_server(router, heard):
        conn = Connection("127.0.0.1", port)
        for i in range(10_000):
            conn.release([i])
        assert conn.wait([10_000]) is None  # answered: what was sent before it has arrived
        conn.close()
    releases = [h for h in heard if h["op"] == "release"]
    assert [i for h in releases for i in h["ids"]] == list(range(10_000))
    assert len(releases) < 1_000, "{} release messages for 10,000 ids".format(len(releases))
    assert heard[len(releases)]["op"] == "wait"  # every release went before the wait


@pytest.mark.timeout(60)
def test_held_releases_go_before_the_next_message_in_order(fake_server):
    router, port = fake_server
    heard = []
    with playing_the_server(router, heard):
        conn = Connection("127.0.0.1", port)
        conn.release([1, 2])
        conn.release([3], when_done=True)
        conn.release([4])
        assert conn.wait([7]) is None  # a request: what was released before it goes first
        conn.release([5])
        assert conn.wait([8]) is None
        conn.close()
    assert [(h["op"], h.get("ids"), h.get("when_done", False)) for h in heard[:6]] == [
        ("release", [1, 2], False), ("release", [3], True), ("release", [4], False), ("wait", [7], False),
        ("release", [5], False), ("wait", [8], False)]


def released_count(client):
    return client.status()["states"]["released"]


def gone_count(client):
    states = client.status()["states"]
    return states["released"] + states["cancelled"]


def add_one(x):
    return x + 1


@pytest.mark.timeout(60)
def test_a_call_waiting_to_be_sent_keeps_the_result_it_takes_when_that_is_released(make_cluster):
    cluster = make_cluster(workers=1, cpus=1)
    with treadle.Client(cluster, output=None) as client:
        first = client.submit(abs, -7)
        client.flush()                          # sent
        second = client.submit(add_one, first)  # not sent yet: it takes first
        first.release()
        assert second.result() == 8
        assert client.submit(abs, -3).result() == 3  # the client goes on
        wait_until(lambda: client.core.states([first.handle]) == ["released"], what="first's result released")


@pytest.mark.timeout(60)
def test_a_submitted_consumer_keeps_an_input_released_before_it_runs(make_cluster):
    cluster = make_cluster(workers=1, cpus=1)
    with Client(*cluster.address) as client:
        a = client.submit_one(tasks.const("a"))
        a.wait()
        b = client.submit_one(tasks.merge((a, tasks.sleep(0.3, tasks.const("b")))))
        a.release()  # held by the client while b's plan is on its way; b keeps it
        assert b.gather() == b"ab"
        assert_serving(client, workers=1)


@pytest.mark.timeout(60)
def test_futures_dropped_just_before_close_are_released(make_cluster, make_client):
    cluster = make_cluster(workers=2, cpus=1)
    watcher = make_client(cluster.address)
    client = treadle.Client(cluster, output=None)
    futures = [client.submit(abs, -i) for i in range(2_000)]
    client.wait(futures)
    before = released_count(watcher)
    del futures
    client.close()  # the releases, still held, go before the bye
    wait_until(lambda: released_count(watcher) >= before + 2_000, what="the 2,000 results released")
    assert_serving(watcher, workers=2)


DROPS_THEN_EXITS = """
import os
import treadle
client = treadle.Client("127.0.0.1:{port}", output=None)
futures = [client.submit(abs, -i) for i in range(500)]
client.wait(futures)
del futures   # the releases are held for a few ms
print("dropped", flush=True)
{exit}
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("exit", ["os._exit(0)", "pass"])
def test_futures_dropped_just_before_the_process_exits_are_released(make_cluster, make_client, exit):
    cluster = make_cluster(workers=2, cpus=1, server_args=["--client-timeout", "1500"])
    watcher = make_client(cluster.address)
    before = released_count(watcher)
    done = run_script(textwrap.dedent(DROPS_THEN_EXITS).format(port=cluster.port, exit=exit), timeout=40)
    assert done.returncode == 0 and done.stdout == "dropped\n", done.stderr
    wait_until(lambda: released_count(watcher) >= before + 500, timeout=20, what="the 500 results released")
    wait_until(lambda: watcher.status()["clients"] == 1, timeout=20, what="the server dropping the client")
    assert_serving(watcher, workers=2)


@pytest.mark.timeout(90)
def test_a_worker_killed_while_releases_are_held(make_cluster):
    cluster = make_cluster(workers=2, cpus=1)
    with treadle.Client(cluster, output=None) as client:
        kept = [client.submit(abs, -i) for i in range(300)]
        dropped = [client.submit(abs, -i) for i in range(300)]
        client.wait(kept + dropped)
        before = gone_count(client)
        del dropped
        victim = cluster.workers[0]
        victim.send_signal(signal.SIGKILL)  # within the releases' few ms
        victim.wait(5)
        # What the killed worker held and is still kept is made again; the dropped ones are gone:
        # released, or cancelled where the loss (known at once: its connection closed) came
        # before their release and had set them to be made again.
        assert client.gather(kept) == list(range(300))
        wait_until(lambda: gone_count(client) >= before + 300, what="the dropped results released")
        states = client.status()["states"]
        assert states["waiting"] + states["ready"] + states["assigned"] + states["running"] == 0, states
        assert [client.submit(abs, -i) for i in range(20)][-1].result() == 19


@pytest.mark.timeout(90)
def test_two_clients_dropping_futures_at_once(make_cluster):
    cluster = make_cluster(workers=2, cpus=1)
    results, errors = {}, []

    def run(name):
        try:
            with treadle.Client(cluster, output=None) as client:
                kept = []
                for round_ in range(5):
                    dropped = [client.submit(abs, -i) for i in range(400)]
                    kept.append(client.submit(abs, -round_))
                    assert client.gather(dropped) == list(range(400))
                    del dropped  # released while the other client works
                results[name] = client.gather(kept)
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append((name, e))

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert results == {"a": [0, 1, 2, 3, 4], "b": [0, 1, 2, 3, 4]}
    with Client(*cluster.address) as watcher:
        wait_until(lambda: watcher.status()["clients"] == 1, what="both clients gone")
        states = watcher.status()["states"]
        assert states["finished"] == 0, states  # nothing either client made is still held
        assert_serving(watcher, workers=2)
