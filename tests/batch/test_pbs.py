"""The PBS path of treadle-cluster (qsub options, job script, qstat -f, qdel) through SLURM's
PBS commands on the private SLURM cluster: no PBS server is packaged for Debian."""

import os
import subprocess

import pytest

import treadle
from tests.conftest import tasks_done, wait_until

pytestmark = pytest.mark.timeout(120)


def test_start_run_cancel_one_mid_run_and_stop(slurm, pbs_cli):
    out = pbs_cli("start", "--pbs", 2, "--time", "10", "--mem", "100M").stdout
    assert "submitted 2 pbs jobs" in out
    status = pbs_cli.wait_for_workers(2)
    assert sorted(j["state"]["state"] for j in status["jobs"].values()) == ["R", "R"]

    def slow_double(x):      # defined here: pickled by value, the workers need not import this file
        import time
        time.sleep(0.1)
        return 2 * x

    client = treadle.Client(pbs_cli.address())
    try:
        futures = [client.submit(slow_double, x) for x in range(40)]
        client.flush()
        wait_until(lambda: tasks_done(client) >= 4, timeout=30, what="a few tasks done")
        victim = sorted(status["jobs"])[0]
        subprocess.run(["qdel", victim], check=True, env=pbs_cli.env, capture_output=True)
        assert [f.result() for f in futures] == [2 * x for x in range(40)]
    finally:
        client.close()

    def gone():
        job = pbs_cli.status()["jobs"][victim]
        return job if not job["worker"] and (job["state"]["ended"] or not job["known"]) else None
    wait_until(gone, timeout=30, what="job {} deleted and its worker gone".format(victim))
    text = pbs_cli("status").stdout
    assert "its worker is gone" in text and text.count("-> worker") == 1, text

    logs = os.path.join(pbs_cli.folder, "data", "treadle", "clusters", "default", "logs")
    assert len([f for f in os.listdir(logs) if f.endswith(".out")]) == 2   # qsub -o took the log path
    out = pbs_cli("stop").stdout
    assert "cancelled 2 jobs" in out and "stopped" in out
    # qstat calls a job still COMPLETING (its processes being killed) "C": it leaves the queue soon.
    wait_until(lambda: slurm.jobs() == [], timeout=30, what="the jobs to leave the queue")
