"""A worker uploading a big result for a client's fetch is not lost for want of a heartbeat.

Its heartbeats travel on its one connection to the server, behind the upload: on a loaded
machine a 300 MB result took longer than the worker timeout to arrive, the worker was declared
lost, the task computed again elsewhere and uploaded again, and lost again; one fetch took 73 s
and four worker losses (tryout10, finding 1). A connection still bringing bytes is alive. The
server's worker timeout is short here (1.5 s, heartbeats every 0.5 s) so the upload outlasts it
on any machine; a worker stopped while silent is still lost after it."""

import os
import signal

import pytest

import treadle
from tests.conftest import wait_until

TIMEOUT_MS = 1500
MB = 1 << 20


def big(megabytes):
    return b"x" * (megabytes * MB)


@pytest.mark.timeout(240)
def test_fetching_a_big_result_loses_no_worker(make_cluster):
    cluster = make_cluster(workers=2, cpus=1, server_args=["--worker-timeout", str(TIMEOUT_MS)])
    client = treadle.Client(cluster)
    future = client.submit(big, 600)
    client.wait([future])
    assert len(future.result()) == 600 * MB
    status = client.status()
    assert status["lost_workers"] == [], status["lost_workers"]
    # It ran once: no loss sent it to run again.
    story = str(client.story([future]))
    assert story.count("assigned -> running") == 1, story
    future.release()
    # The healthy work goes on, on both workers.
    assert client.gather([client.submit(pow, i, 2) for i in range(8)]) == [i * i for i in range(8)]
    assert len(client.status()["workers"]) == 2
    client.close()


@pytest.mark.timeout(120)
def test_a_stopped_worker_is_still_lost(make_cluster):
    cluster = make_cluster(workers=2, cpus=1, server_args=["--worker-timeout", str(TIMEOUT_MS)])
    client = treadle.Client(cluster)
    assert client.gather([client.submit(pow, i, 2) for i in range(4)]) == [0, 1, 4, 9]
    victim = cluster.workers[0]
    os.kill(victim.pid, signal.SIGSTOP)
    try:
        wait_until(lambda: any(w["reason"] == "no heartbeat" for w in client.status()["lost_workers"]),
                   timeout=60, what="the stopped worker lost for want of a heartbeat")
    finally:
        os.kill(victim.pid, signal.SIGCONT)
    assert client.gather([client.submit(pow, i, 2) for i in range(4)]) == [0, 1, 4, 9]
    client.close()
