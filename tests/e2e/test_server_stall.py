"""A server that was stopped or busy for longer than the worker timeout blames no worker for it.

The server declares a worker lost after 3 s without a message from it. It counts that silence
only over time it was itself reading its socket (docs/architecture.md, "Failures"): a server
whose loop stalled (a huge batch, a machine so loaded it got no cpu, a paused VM) reads the
heartbeats that came meanwhile before it judges anyone. A worker that really stays silent
after the stall is still declared lost.

The whole cluster is stopped (SIGSTOP), as a frozen machine would be, for longer than the
timeout; the server is resumed first and answers a client (so it has looked at its workers at
least once) before the workers are resumed.
"""

import signal
import time

import pytest

from tests.conftest import wait_until
from treadle.loom.client import Client, tasks

WORKER_TIMEOUT_S = 3.0  # the server's default


def stop_everything_past_the_timeout(cluster, client):
    """Stops the server and its workers for longer than the worker timeout, then resumes the
    server and waits for its answer: it has taken a loop turn, heartbeat check included,
    before any worker can speak again."""
    procs = [cluster.server] + cluster.workers
    for p in procs:
        p.send_signal(signal.SIGSTOP)
    try:
        time.sleep(WORKER_TIMEOUT_S + 0.5)  # the stall itself (what is tested), not a wait for a condition
    finally:
        cluster.server.send_signal(signal.SIGCONT)
    return client.status()


def heard_since(client, worker_id, since_us):
    """Whether the server holds a heartbeat sample that worker sent after `since_us`."""
    return any(w["id"] == worker_id and w.get("sampled_us", 0) > since_us for w in client.status()["workers"])


def lost_events(client):
    return [e for e in client.trace()["events"] if e["kind"] == "worker_lost"]


@pytest.mark.timeout(60)
def test_a_stalled_server_declares_no_worker_lost(make_cluster, tmp_path):
    cluster = make_cluster(workers=2, cpus=1)
    client = Client(*cluster.address)
    ids = sorted(w["id"] for w in client.status()["workers"])
    try:
        status = stop_everything_past_the_timeout(cluster, client)
    finally:
        for w in cluster.workers:
            w.send_signal(signal.SIGCONT)
    assert sorted(w["id"] for w in status["workers"]) == ids, "a worker was declared lost for the server's stall"
    resumed_us = time.time() * 1e6
    for worker_id in ids:
        wait_until(lambda: heard_since(client, worker_id, resumed_us), timeout=20,
                   what="a heartbeat of worker {} after the stall".format(worker_id))
    assert sorted(w["id"] for w in client.status()["workers"]) == ids
    assert not lost_events(client)
    assert all(w.poll() is None for w in cluster.workers)
    futures = client.submit([tasks.merge((tasks.const("r{}-".format(i)), tasks.const(str(i)))) for i in range(50)])
    assert client.gather(futures) == ["r{}-{}".format(i, i).encode() for i in range(50)]
    assert not lost_events(client)
    client.close()


@pytest.mark.timeout(60)
def test_after_a_server_stall_a_worker_still_stopped_is_declared_lost(make_cluster, tmp_path):
    cluster = make_cluster(workers=2, cpus=1)
    client = Client(*cluster.address)
    by_pid = {w["name"].rsplit(":", 1)[1]: w["id"] for w in client.status()["workers"]}
    awake, asleep = cluster.workers
    awake_id, asleep_id = by_pid[str(awake.pid)], by_pid[str(asleep.pid)]
    try:
        stop_everything_past_the_timeout(cluster, client)
        awake.send_signal(signal.SIGCONT)
        # The stopped worker is dropped, within a few seconds of ordinary loop turns...
        wait_until(lambda: [w["id"] for w in client.status()["workers"]] == [awake_id], timeout=20,
                   what="the still-stopped worker declared lost")
        lost = lost_events(client)
        assert len(lost) == 1 and str(asleep.pid) in lost[0]["name"]
        # ...and work goes on on the other, which was never dropped.
        futures = client.submit([tasks.merge((tasks.const("s{}-".format(i)), tasks.const(str(i)))) for i in range(50)])
        assert client.gather(futures) == ["s{}-{}".format(i, i).encode() for i in range(50)]
        assert [w["id"] for w in client.status()["workers"]] == [awake_id]
    finally:
        for w in cluster.workers:
            w.send_signal(signal.SIGCONT)
    client.close()
