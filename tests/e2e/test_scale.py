"""Big plans: a million tasks in one submit, a 10,000-long chain, many small submits, big data.

Each test's timeout is the bound that catches a quadratic or recursive path; how fast is the
benchmarks' business (bench/README.md, workloads 1-4), never an assert here: a loaded machine
takes seconds more.
"""

import os
import time

import pytest

from tests.conftest import start_cluster
from treadle.loom.client import Client, tasks

N = 1_000_000
CHUNK = 1000


@pytest.fixture(scope="module")
def scale_cluster(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scale")
    with start_cluster(workers=2, cpus=1, worker_args=["--workdir", str(folder)]) as cluster:
        client = Client(*cluster.address)
        yield cluster, client
        client.close()


@pytest.fixture(scope="module")
def million(scale_cluster):
    """One million const tasks merged through a two-level tree, computed once for the module."""
    cluster, client = scale_cluster
    start = time.monotonic()
    consts = [tasks.const(str(i)) for i in range(N)]
    chunks = [tasks.merge(consts[i:i + CHUNK]) for i in range(0, N, CHUNK)]
    root = tasks.merge(chunks, "|")
    built = time.monotonic()
    future = client.submit_one(root)
    submitted = time.monotonic()
    del consts, chunks, root
    result = future.gather()
    done = time.monotonic()
    return {"build": built - start, "submit": submitted - built, "compute": done - submitted,
            "result": result, "status": client.status()}


@pytest.mark.timeout(300)
def test_a_million_const_tasks(million):
    expected = "|".join("".join(str(i) for i in range(k, k + CHUNK)) for k in range(0, N, CHUNK)).encode()
    assert million["result"] == expected
    print("a million tasks: build {build:.1f} s, submit {submit:.1f} s, compute {compute:.1f} s".format(**million))
    status = million["status"]
    assert status["tasks"] >= N + N // CHUNK + 1
    assert status["states"]["waiting"] == status["states"]["ready"] == status["states"]["running"] == 0


@pytest.mark.timeout(300)
def test_no_worker_lost_under_a_million_tasks(million, scale_cluster):
    # A worker silent for the server's worker timeout (3 s) is declared lost and its work redone
    # elsewhere: a worker's loop heartbeats through big batches, frees and fetches, and the
    # server counts silence only while it listened (docs/architecture.md, "Failures"), so a
    # loaded machine loses none (tests/e2e/test_server_stall.py, tests/unit/test_worker_state_busy.cpp).
    cluster, client = scale_cluster
    assert len(million["status"]["workers"]) == 2
    assert all(w.poll() is None for w in cluster.workers)


@pytest.mark.timeout(300)
def test_200000_tasks_gathered_through_arrays(scale_cluster):
    cluster, client = scale_cluster
    n, chunk = 200_000, 10_000
    arrays = [tasks.array_make([tasks.const(bytes([i % 251])) for i in range(k, k + chunk)])
              for k in range(0, n, chunk)]
    # each array of 10,000 one-byte objects is checked by its length and a few picked elements
    checks = [tasks.array_make((tasks.length(a), tasks.get(a, 0), tasks.get(a, chunk - 1))) for a in arrays]
    futures = client.submit(checks)
    results = client.gather(futures)
    for j, (length, first, last) in enumerate(results):
        k = j * chunk
        assert length == chunk.to_bytes(8, "little")
        assert first == bytes([k % 251]) and last == bytes([(k + chunk - 1) % 251])


@pytest.mark.timeout(240)
def test_a_10000_long_chain_of_merges(scale_cluster):
    cluster, client = scale_cluster
    t = tasks.const("0,")
    for i in range(1, 10_000):
        t = tasks.merge((t, tasks.const("{},".format(i))))
    assert client.submit_one(t).gather() == "".join("{},".format(i) for i in range(10_000)).encode()


@pytest.mark.timeout(240)
def test_a_100000_long_chain_of_sleeps(scale_cluster):
    cluster, client = scale_cluster
    t = tasks.const("end")
    for _ in range(100_000):
        t = tasks.sleep(0, t)
    assert client.submit_one(t).gather() == b"end"


@pytest.mark.timeout(240)
def test_a_failure_at_the_bottom_of_a_long_chain(scale_cluster):
    from treadle.loom.client import TaskFailed
    cluster, client = scale_cluster
    bottom = tasks.open("/nonexistent/bottom-of-chain")
    t = bottom
    for _ in range(20_000):
        t = tasks.merge((t,))
    with pytest.raises(TaskFailed) as info:
        client.submit_one(t).wait()
    assert "/nonexistent/bottom-of-chain" in str(info.value)


@pytest.mark.timeout(240)
def test_many_small_submits(scale_cluster):
    cluster, client = scale_cluster
    futures = [client.submit_one(tasks.merge((tasks.const(str(i)), tasks.const("+")))) for i in range(2000)]
    assert client.gather(futures) == [str(i).encode() + b"+" for i in range(2000)]


@pytest.mark.timeout(240)
def test_big_objects(scale_cluster):
    cluster, client = scale_cluster
    a, b = os.urandom(24 << 20), os.urandom(24 << 20)
    fa, fb = client.submit((tasks.const(a), tasks.const(b)))
    merged = client.submit_one(tasks.merge((fa, fb)))
    size = client.submit_one(tasks.size(merged))
    assert size.gather() == (48 << 20).to_bytes(8, "little")
    assert merged.gather() == a + b
    client.release((fa, fb))
