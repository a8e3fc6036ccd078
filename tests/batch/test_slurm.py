"""Worker jobs through a real (one-node, private) SLURM cluster: ``treadle-cluster start
--slurm N``, graphs run on the workers the jobs became, a job cancelled mid-run, ``stop``."""

import os
import subprocess
import textwrap

import pytest

import treadle
from tests.conftest import tasks_done, wait_until
from treadle.deploy.server_process import pid_alive
from treadle.loom.client import Client, tasks

pytestmark = pytest.mark.timeout(120)


def test_start_run_graphs_and_stop(slurm, slurm_cli):
    slurm_cli("start", "--slurm", 2, "--time", "10")
    status = slurm_cli.wait_for_workers(2)
    assert len(status["jobs"]) == 2
    for job in status["jobs"].values():
        assert job["state"]["state"] == "RUNNING" and job["worker"]["cpus"] == 1
    address = slurm_cli.address()

    client = treadle.Client(address)
    try:
        assert list(client.map(abs, range(-20, 20))) == [abs(x) for x in range(-20, 20)]
    finally:
        client.close()
    host, port = address.rsplit(":", 1)
    loom = Client(host, int(port))
    try:
        parts = [tasks.const("w{} ".format(i)) for i in range(10)]
        assert loom.submit_one(tasks.merge(parts)).gather() == b"".join(b"w%d " % i for i in range(10))
        done_by = {w["name"]: w["tasks_done"] for w in loom.status()["workers"]}
    finally:
        loom.close()
    assert all("(job " in name for name in done_by)
    text = slurm_cli("status").stdout
    assert text.count("RUNNING on") == 2 and text.count("-> worker") == 2, text

    server_pid = slurm_cli.server_pid()
    out = slurm_cli("stop").stdout
    assert "cancelled 2 jobs" in out and "stopped" in out
    assert slurm.jobs() == []
    assert not os.path.exists(slurm_cli.state_file())
    assert not pid_alive(server_pid)   # gone (a zombie until this container's init reaps it)
    assert "no cluster" in slurm_cli("status", check=False).stdout


def test_a_job_cancelled_mid_run_is_a_lost_worker(slurm, slurm_cli):
    slurm_cli("start", "--slurm", 2)
    slurm_cli.wait_for_workers(2)
    def slow_square(x):      # defined here: pickled by value, the workers need not import this file
        import time
        time.sleep(0.1)
        return x * x

    client = treadle.Client(slurm_cli.address())
    try:
        futures = [client.submit(slow_square, x) for x in range(40)]
        client.flush()
        wait_until(lambda: tasks_done(client) >= 4, timeout=30, what="a few tasks done")
        status = slurm_cli.status()
        victim = sorted(status["jobs"])[0]
        subprocess.run(["scancel", victim], check=True, env=slurm.environment())
        assert [f.result() for f in futures] == [x * x for x in range(40)]
    finally:
        client.close()

    def cancelled():
        job = slurm_cli.status()["jobs"][victim]
        return job if job["state"]["ended"] and not job["worker"] else None
    job = wait_until(cancelled, timeout=30, what="job {} cancelled and its worker gone".format(victim))
    assert job["state"]["state"] == "CANCELLED"
    text = slurm_cli("status").stdout
    assert "job {}: CANCELLED".format(victim) in text and "its worker is gone" in text, text
    slurm_cli("stop")
    assert slurm.jobs() == []


def test_a_second_start_adds_jobs_to_the_running_server(slurm, slurm_cli):
    slurm_cli("start", "--slurm", 1)
    first = slurm_cli.address()
    out = slurm_cli("start", "--slurm", 1).stdout
    assert "using the running server" in out and slurm_cli.address() == first
    status = slurm_cli.wait_for_workers(2)
    assert len(status["workers"]) == 2
    slurm_cli("stop")
    assert slurm.jobs() == []


def test_remove_retires_a_worker_whose_job_then_completes(slurm, slurm_cli):
    slurm_cli("start", "--slurm", 2)
    slurm_cli.wait_for_workers(2)
    client = treadle.Client(slurm_cli.address(), output=None)
    try:
        futures = [client.submit(abs, -i) for i in range(40)]
        client.wait(futures)
        out = slurm_cli("remove", 1).stdout
        assert out.startswith("retiring ") and "(job " in out, out
        wait_until(lambda: len(client.status()["workers"]) == 1, timeout=30, interval=0.2,
                   what="the retired worker leaving")
        assert client.gather(futures) == list(range(40))
        assert not client.core.connection.trace(100000, kinds=["worker_lost"])["events"]
    finally:
        client.close()
    wait_until(lambda: [j for j in slurm_cli.status()["jobs"].values()
                        if j["state"] and j["state"]["state"] == "COMPLETED"], timeout=30, interval=0.5,
               what="the retired worker's job completing")
    slurm_cli("stop")


def test_inside_an_allocation_workers_start_with_srun(slurm, slurm_cli, tmp_path):
    # A job script as a user writes it: start the cluster on the job's hosts, run, stop.
    program = tmp_path / "program.py"
    program.write_text(textwrap.dedent("""
        import sys, treadle
        client = treadle.Client(sys.argv[1])
        print("workers", [w["name"] for w in client.status()["workers"]])
        print("result", sum(client.map(abs, range(-30, 30))))
        client.close()
    """))
    job = tmp_path / "job.sh"
    job.write_text(textwrap.dedent("""\
        #!/bin/bash
        #SBATCH --nodes=1 --ntasks=2
        set -e
        treadle-cluster start --name alloc
        /usr/bin/python3 {program} "$(treadle-cluster address --name alloc)"
        treadle-cluster status --name alloc
        treadle-cluster stop --name alloc
    """.format(program=program)))
    out = tmp_path / "job.out"
    env = dict(slurm_cli.env, PYTHONPATH=os.environ["PYTHONPATH"])
    job_id = subprocess.run(["sbatch", "--parsable", "--output", str(out), str(job)], check=True, env=env,
                            capture_output=True, text=True).stdout.strip()
    slurm_cli.names.add("alloc")

    def ended():
        state = subprocess.run(["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True,
                               env=slurm.environment()).stdout
        return "JobState=COMPLETED" in state or "JobState=FAILED" in state
    wait_until(ended, timeout=90, interval=0.2, what="the job script to end")
    text = out.read_text()
    assert "result {}".format(sum(abs(x) for x in range(-30, 30))) in text, text
    assert "started with srun" in text and "(2 cpus)" in text, text
    assert "(job {})".format(job_id) in text, text
    assert "server" in text and "stopped" in text, text
    assert not os.path.exists(slurm_cli.state_file("alloc"))
