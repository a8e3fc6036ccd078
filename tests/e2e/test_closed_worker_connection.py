"""A worker whose connection closed (its process killed) is lost at once, not after the
heartbeat timeout: its tasks run again on another worker and `status` no longer lists it. The
server here waits 10 minutes for a silent worker (`--worker-timeout`), so only the closed
connection can tell it; a stopped worker (connection open) and a client leaving lose nobody."""

import os
import signal

import pytest

from tests.conftest import python_program, wait_until
from treadle.loom.client import Client, tasks

HEARTBEAT_TIMEOUT_MS = 600000


def waits_for(flag, name):
    """A cpu task that prints `name` once `flag` exists (so both workers hold one, running)."""
    code = "import os, sys, time\nwhile not os.path.exists(sys.argv[2]): time.sleep(0.01)\nprint(sys.argv[3])"
    return tasks.run(python_program(code, str(flag), name), request=tasks.cpus(1))


def worker_pid(worker):
    return int(worker["name"].rsplit(":", 1)[1])


def listed_pids(client):
    return {worker_pid(w) for w in client.status()["workers"]}


@pytest.mark.timeout(120)
def test_a_killed_worker_is_lost_at_once_and_its_task_runs_elsewhere(make_cluster, tmp_path):
    cluster = make_cluster(workers=2, cpus=1, server_args=["--worker-timeout", str(HEARTBEAT_TIMEOUT_MS)])
    client = Client(*cluster.address)
    flag = tmp_path / "go"
    futures = client.submit([waits_for(flag, "first"), waits_for(flag, "second")])
    status = wait_until(lambda: (lambda s: s if all(w["running"] == 1 for w in s["workers"]) else None)(client.status()),
                        timeout=30, what="one task running on each worker")
    victim_pid = worker_pid(status["workers"][0])
    victim = next(w for w in cluster.workers if w.pid == victim_pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)

    # Far sooner than the heartbeat timeout (10 min): the closed connection told the server.
    wait_until(lambda: listed_pids(client) == {w.pid for w in cluster.workers if w is not victim},
               timeout=60, what="the server dropping the killed worker")
    flag.write_text("")
    assert [r.strip() for r in client.gather(futures)] == [b"first", b"second"]
    # The next map runs on the survivor alone, none of it placed on the dead worker.
    more = client.submit([tasks.merge((tasks.const("r{}-".format(i)), tasks.const(str(i)))) for i in range(6)])
    assert client.gather(more) == ["r{}-{}".format(i, i).encode() for i in range(6)]
    client.close()


@pytest.mark.timeout(120)
def test_a_stopped_worker_and_a_leaving_client_lose_nobody(make_cluster, tmp_path):
    cluster = make_cluster(workers=2, cpus=1, server_args=["--worker-timeout", str(HEARTBEAT_TIMEOUT_MS)])
    client = Client(*cluster.address)
    pids = {w.pid for w in cluster.workers}
    assert listed_pids(client) == pids
    # A client that comes and goes: its connection closes, the workers stay.
    for _ in range(3):
        Client(*cluster.address).close()
    # One worker busy with a task that waits, then stopped (silent, its connection open).
    held = tmp_path / "held"
    kept = client.submit_one(waits_for(held, "held"))
    status = wait_until(lambda: (lambda s: s if any(w["running"] for w in s["workers"]) else None)(client.status()),
                        timeout=30, what="the task running")
    stopped_pid = next(worker_pid(w) for w in status["workers"] if w["running"])
    os.kill(stopped_pid, signal.SIGSTOP)
    try:
        # Work goes on on the other one meanwhile, and the stopped one stays listed.
        go = tmp_path / "go"
        go.write_text("")
        assert client.submit_one(waits_for(go, "while stopped")).gather().strip() == b"while stopped"
        assert listed_pids(client) == pids
    finally:
        os.kill(stopped_pid, signal.SIGCONT)
    # Running again, it finishes its task: it was never dropped.
    held.write_text("")
    assert kept.gather().strip() == b"held"
    assert listed_pids(client) == pids
    client.close()
