"""The server gives a big plan's memory back once the plan is gone (released, or its client killed).

A server that ran a 200,000-task plan and freed it must not keep tens of MB it no longer uses:
a notebook's server lives for days. The baseline is taken after a warm-up of small plans, so the
trace ring (bounded, kept for `%treadle trace`) and the allocator's working set are in it.
"""

import signal
import subprocess
import sys

import pytest

from tests.conftest import wait_until
from treadle.loom.client import Client, tasks

TASKS = 200_000
CHUNK = 1000
SLACK = 6 << 20  # what "back near the baseline" allows: a few MB


def big_plan(n=TASKS):
    chunks = [tasks.array_make([tasks.const(b"x") for _ in range(CHUNK)]) for _ in range(n // CHUNK)]
    return tasks.length(tasks.array_make(chunks))


def rss(pid):
    with open("/proc/{}/status".format(pid)) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for pid {}".format(pid))


def warm_up(client):
    """Small plans until the trace ring is full (200,000 events): its memory stays by design."""
    for _ in range(30):
        future = client.submit_one(big_plan(8000))
        assert future.gather() == (8).to_bytes(8, "little")
        future.release()
    wait_until(lambda: plans_freed(client), timeout=20, what="the warm-up plans being freed")


def plans_freed(client):
    """No plan is left: the server's tables hold only the 4-byte id -> plan entry per task ever."""
    status = client.status()
    return status["memory"] < status["tasks"] * 8 + (1 << 20)


KEEPING_CLIENT = """
import time
from treadle.loom.client import Client, tasks
client = Client("127.0.0.1", {port}, timeout=60)
chunks = [tasks.array_make([tasks.const(b"x") for _ in range({chunk})]) for _ in range({chunks})]
future = client.submit_one(tasks.length(tasks.array_make(chunks)))
client.status()  # the server has the plan
print("submitted", flush=True)
time.sleep(120)
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", ["released", "client killed"])
def test_a_freed_plan_gives_its_memory_back(make_cluster, make_client, how):
    cluster = make_cluster(workers=2, cpus=1, server_args=["--client-timeout", "1000"])
    pid = cluster.server.pid
    client = make_client(cluster.address)
    warm_up(client)
    baseline = rss(pid)
    if how == "released":
        future = client.submit_one(big_plan())
        assert future.gather() == (TASKS // CHUNK).to_bytes(8, "little")
        held = rss(pid)
        future.release()
    else:
        script = KEEPING_CLIENT.format(port=cluster.port, chunk=CHUNK, chunks=TASKS // CHUNK)
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "submitted"
            held = rss(pid)
            proc.send_signal(signal.SIGKILL)
            proc.wait(5)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
    # The plan's tables were really held (about 93 bytes a task), so the check below means something.
    assert held > baseline + 10 * (1 << 20), (baseline, held)
    wait_until(lambda: plans_freed(client), timeout=30, what="the plan being freed")
    wait_until(lambda: rss(pid) < baseline + SLACK, timeout=10,
               what="the server's RSS back within {} MB of its baseline {:.1f} MB (now {:.1f} MB, {:.1f} MB with "
                    "the plan)".format(SLACK >> 20, baseline / 2**20, rss(pid) / 2**20, held / 2**20))
    assert client.submit_one(tasks.const("still serving")).gather() == b"still serving"


@pytest.mark.timeout(120)
def test_a_plan_without_labels_costs_at_most_93_bytes_a_task(make_cluster, make_client):
    """The server's own count of a wide plan's tables (status `memory`), submitted by the real
    client, which sends a label column of zeros: 64 bytes the record, 4 the id -> plan entry, 4 the
    config offset, 8 + 4 + 4 + 4 the one input of each task and its offsets, about 1 the config,
    and no label column (issue 15: a million tasks in at most 150 bytes each, transients included)."""
    cluster = make_cluster(workers=1, cpus=1)
    client = make_client(cluster.address)
    before = client.status()["memory"]
    future = client.submit_one(big_plan(100_000))
    per_task = (client.status()["memory"] - before) / (100_000 + 100 + 2)
    assert per_task <= 93.5, per_task
    assert future.gather() == (100).to_bytes(8, "little")
