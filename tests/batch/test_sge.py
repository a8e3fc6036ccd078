"""Worker jobs through a real one-node Grid Engine cell: ``treadle-cluster start --sge N``,
graphs on the workers the array job's tasks became, a task qdel'd mid-run, ``stop``."""

import os
import subprocess

import pytest

import treadle
from tests.conftest import tasks_done, wait_until
from treadle.loom.client import Client, tasks

pytestmark = pytest.mark.timeout(120)


def test_start_run_graphs_cancel_one_mid_run_and_stop(gridengine, sge_cli):
    sge_cli("start", "--sge", 2, "--time", "10")
    sge_cli.wait_for_workers(2)

    def both_running():
        # A task's worker can join while qstat still shows the task in transfer ("t").
        status = sge_cli.status()
        return status if sorted(j["state"]["state"] for j in status["jobs"].values()) == ["r", "r"] else None
    status = wait_until(both_running, timeout=30, interval=0.2, what="both array tasks running ('r') in qstat")
    address = sge_cli.address()
    host, port = address.rsplit(":", 1)
    loom = Client(host, int(port))
    try:
        parts = [tasks.const("g{} ".format(i)) for i in range(10)]
        assert loom.submit_one(tasks.merge(parts)).gather() == b"".join(b"g%d " % i for i in range(10))
    finally:
        loom.close()

    def slow_cube(x):      # defined here: pickled by value, the workers need not import this file
        import time
        time.sleep(0.1)
        return x ** 3

    client = treadle.Client(address)
    try:
        futures = [client.submit(slow_cube, x) for x in range(40)]
        client.flush()
        wait_until(lambda: tasks_done(client) >= 4, timeout=30, what="a few tasks done")
        victim = sorted(status["jobs"])[0]
        job, task = victim.split(".")
        subprocess.run(["qdel", job, "-t", task], check=True, env=gridengine.environment(), capture_output=True)
        assert [f.result() for f in futures] == [x ** 3 for x in range(40)]
    finally:
        client.close()

    def gone():
        job = sge_cli.status()["jobs"][victim]
        return job if not job["worker"] and (job["state"]["ended"] or not job["known"]) else None
    wait_until(gone, timeout=30, what="task {} deleted and its worker gone".format(victim))
    text = sge_cli("status").stdout
    assert "its worker is gone" in text and text.count("-> worker") == 1, text

    server_pid = sge_cli.server_pid()
    out = sge_cli("stop").stdout
    assert "cancelled 2 jobs" in out and "stopped" in out
    assert gridengine.jobs() == []
    assert not os.path.exists(sge_cli.state_file())
    from treadle.deploy.server_process import pid_alive
    assert not pid_alive(server_pid)
