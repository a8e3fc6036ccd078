"""Frees the server holds back for a worker's next message (docs/protocol.md, `compute`'s
frees): they ride on the next compute batch, go on their own when none follows, and a worker
killed with frees on their way loses nothing that is still needed."""

import signal
import struct

import pytest

from tests.conftest import assert_serving, wait_until
from tests.e2e.test_security import fake_server, next_from_worker, pack  # noqa: F401 (a fixture)
from treadle.core import paths as _paths
from treadle.loom.client import Client, tasks

zmq = pytest.importorskip("zmq")


def objects_on(client, index=0):
    """How many objects a worker says it holds (its latest heartbeat), or None before one."""
    workers = client.status()["workers"]
    return workers[index].get("objects") if len(workers) > index else None


@pytest.mark.timeout(60)
def test_a_released_object_is_freed_when_no_batch_follows(make_cluster):
    cluster = make_cluster(workers=1, cpus=1)
    client = Client(*cluster.address)
    futures = client.submit([tasks.const("x{}".format(i)) for i in range(100)])
    assert client.fetch(futures) == [b"x%d" % i for i in range(100)]
    wait_until(lambda: objects_on(client) == 100, what="the worker holding the 100 results")
    client.release(futures)
    # Nothing else is sent to the worker: the held frees must go on their own.
    wait_until(lambda: objects_on(client) == 0, what="the released results freed on the worker")
    assert_serving(client, workers=1)
    client.close()


@pytest.mark.timeout(90)
def test_frees_riding_on_a_batch_to_a_worker_that_is_then_killed(make_cluster):
    cluster = make_cluster(workers=2, cpus=1, server_args=["--worker-timeout", "1000"])
    client = Client(*cluster.address)
    kept = client.submit([tasks.merge((tasks.const("k{}".format(i)), tasks.const("!"))) for i in range(50)])
    released = client.submit([tasks.const("r{}".format(i)) for i in range(200)])
    assert client.fetch(kept) == [b"k%d!" % i for i in range(50)]
    assert client.fetch(released) == [b"r%d" % i for i in range(200)]
    # Released, then work for both workers at once: the frees go out with its compute batches.
    client.release(released)
    slow = [tasks.sleep(0.5, tasks.const("s{}".format(i))) for i in range(4)]
    for t in slow:
        t.resource_request = tasks.cpus(1)
    second = client.submit(slow)
    status = wait_until(lambda: (lambda s: s if any(w["running"] for w in s["workers"]) else None)(client.status()),
                        what="a sleep running")
    victim_pid = next(int(w["name"].rsplit(":", 1)[1]) for w in status["workers"] if w["running"])
    victim = next(w for w in cluster.workers if w.pid == victim_pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait(5)
    # What the killed worker held and is still needed is made again; what it freed is not.
    assert client.gather(second) == [b"s%d" % i for i in range(4)]
    assert client.fetch(kept) == [b"k%d!" % i for i in range(50)]
    wait_until(lambda: len(client.status()["workers"]) == 1, what="the server dropping the killed worker")
    # The survivor ends up holding exactly the kept results: every free reached it.
    wait_until(lambda: objects_on(client) == 50, what="the survivor holding only the 50 kept results")
    assert_serving(client, workers=1)
    client.release(kept)
    wait_until(lambda: objects_on(client) == 0, what="the kept results freed")
    client.close()


def column(values, fmt):
    return struct.pack("<{}{}".format(len(values), fmt), *values)


def compute(ids, configs, frees):
    """A compute batch of constants (docs/protocol.md) carrying `frees`."""
    offsets = [0]
    for c in configs:
        offsets.append(offsets[-1] + len(c))
    header = pack({"op": "compute", "types": ["loom/data/const"], "peers": []})
    return [header, column(ids, "Q"), column([0] * len(ids), "I"), column([0] * len(ids), "I"),
            column([0] * len(ids), "I"), b"", b"", column(offsets, "Q"), b"".join(configs), column(frees, "Q")]


@pytest.mark.timeout(180)
def test_a_worker_drops_the_frees_of_a_batch_before_its_tasks(fake_server, tmp_path):
    import subprocess
    router, port = fake_server
    worker = subprocess.Popen([_paths.program("treadle-worker"), "127.0.0.1:{}".format(port), "--workdir",
                               str(tmp_path), "--server-timeout", "20000"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # It says hello once its executors are up: seconds on a loaded machine.
        routing, hello = next_from_worker(router, "hello", timeout_ms=60000)
        assert hello
        router.send_multipart([routing, pack({"op": "welcome", "id": 0})])
        router.send_multipart([routing] + compute([5], [b"five"], []))
        _, finished = next_from_worker(router, "finished", timeout_ms=30000)
        assert finished, "the worker did not report task 5"
        # Task 6, with 5 to free: the worker holds 6 only.
        router.send_multipart([routing] + compute([6], [b"six"], [5]))
        _, finished = next_from_worker(router, "finished", timeout_ms=30000)
        assert finished, "the worker did not take the batch carrying frees"

        def objects():
            _, hb = next_from_worker(router, "hb", timeout_ms=30000)
            return hb and hb["objects"] == 1
        wait_until(objects, timeout=60, what="the worker holding task 6 only")
    finally:
        worker.terminate()
        worker.wait(10)
