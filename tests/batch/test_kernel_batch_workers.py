"""``%treadle workers --slurm N`` in a real treadle kernel (driven by jupyter_client) on the
one-node SLURM cluster: jobs shown as they join, tasks run on the workers they became, a job
cancelled mid-run is a lost worker the notebook names, ``--stop`` cancels the rest."""

import os
import re
import subprocess

import pytest

from tests.conftest import SECRET, wait_until
from tests.kernel.conftest import Kernel, errors, results, text

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def slurm_kernel(slurm, tmp_path, request):
    """A treadle kernel that knows the secret only from a 0600 file (as worker jobs must) and
    sees the test cluster's SLURM; its cwd (where job output goes) is a temporary folder. A
    test's indirect parameter: more environment for the kernel."""
    secret_file = tmp_path / "secret"
    fd = os.open(str(secret_file), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(SECRET + "\n")
    env = slurm.environment()
    env.pop("TREADLE_SECRET", None)
    env["TREADLE_SECRET_FILE"] = str(secret_file)
    env.update(getattr(request, "param", {}))
    k = Kernel(env=env, cwd=str(tmp_path))
    yield k
    k.shutdown()
    slurm.cancel_all()


def status_text(k):
    reply, outputs, _ = k.run("%treadle status")
    assert reply["status"] == "ok", outputs
    return results(outputs)[0]["text/plain"]


def test_workers_from_slurm_jobs_in_a_notebook(slurm, slurm_kernel):
    k = slurm_kernel
    reply, outputs, _ = k.run("%treadle workers --slurm 2 --time 10", timeout=90)
    assert reply["status"] == "ok" and not errors(outputs), outputs
    said = text(outputs)
    ids = re.search(r"submitted 2 slurm jobs \(([^)]+)\)", said).group(1).split(", ")
    assert len(ids) == 2, said
    # The magic returned once both jobs had a worker: status pairs each job with its worker.
    shown = status_text(k)
    assert "2 workers" in shown and shown.count("-> worker") == 2, shown
    for job in ids:
        assert "slurm job {}: RUNNING".format(job) in shown, shown

    # Tasks run there, and survive a job cancelled mid-run (its tasks re-placed).
    k.run("import treadle, time\n"
          "def slow_square(x):\n"
          "    time.sleep(0.1)\n"
          "    return x * x\n"
          "futures = [treadle.submit(slow_square, x) for x in range(30)]")
    wait_until(lambda: "finished" in status_text(k), timeout=60, what="a task finished on a job's worker")
    subprocess.run(["scancel", ids[0]], check=True, env=slurm.environment())
    reply, outputs, _ = k.run("print(sum(f.result() for f in futures))", timeout=90)
    assert text(outputs).strip() == str(sum(x * x for x in range(30))), outputs

    def cancelled():
        shown = status_text(k)
        return shown if "slurm job {}: CANCELLED".format(ids[0]) in shown else None
    shown = wait_until(cancelled, timeout=30, what="the notebook's status naming the cancelled job")
    assert "its worker is gone" in shown and "1 worker," in shown, shown

    reply, outputs, _ = k.run("%treadle workers --stop")
    assert "cancelled 2 jobs" in text(outputs), outputs
    wait_until(lambda: slurm.jobs() == [], timeout=30, what="no jobs left in SLURM")


@pytest.mark.parametrize("slurm_kernel", [{"TREADLE_ADAPT_IDLE": "2"}], ids=["idle_2s"], indirect=True)   # not 10 s
def test_adapting_slurm_jobs_in_a_notebook(slurm, slurm_kernel):
    k = slurm_kernel
    reply, outputs, _ = k.run("%treadle workers --slurm --adapt 1:2 --time 10", timeout=90)
    assert reply["status"] == "ok" and not errors(outputs), outputs
    assert "adapting between 1 and 2 slurm jobs" in text(outputs), outputs
    k.run("import treadle, time\n"
          "def nap(x):\n"
          "    time.sleep(0.3)\n"
          "    return x\n"
          "client = treadle.default_client()")
    wait_until(lambda: "-> worker" in status_text(k), timeout=60, what="the first job's worker")
    k.run("futures = [treadle.submit(nap, x) for x in range(60)]")   # ~18 s of work for one worker
    wait_until(lambda: "2 workers" in status_text(k), timeout=90, what="the burst growing the cluster")
    reply, outputs, _ = k.run("print(sum(f.result() for f in futures))", timeout=90)
    assert text(outputs).strip() == str(sum(range(60))), outputs
    assert "started by this kernel" not in status_text(k)   # no local workers besides the jobs'
    # Idle again: the worker above MIN retires, and its job ends.
    wait_until(lambda: "1 worker," in status_text(k), timeout=60, what="the cluster shrinking back")
    shown = wait_until(lambda: (lambda s: s if "COMPLETED" in s else None)(status_text(k)), timeout=30,
                       what="the retired worker's job ending")
    assert shown.count("-> worker") == 1, shown
    reply, outputs, _ = k.run("%treadle workers --stop")
    assert "cancelled 2 jobs" in text(outputs), outputs
    wait_until(lambda: slurm.jobs() == [], timeout=30, what="no jobs left in SLURM")


def test_a_job_slurm_will_not_start_is_not_waited_for(slurm, slurm_kernel):
    """More cpus than the partition's node has: SLURM keeps the job PENDING (PartitionConfig)
    for ever. The magic says so, with SLURM's reason, and returns; the job stays queued (an
    administrator may still change the limits), and --stop cancels it (tryout9, finding 9)."""
    k = slurm_kernel
    reply, outputs, _ = k.run("%treadle workers --slurm 1 --cpus 64", timeout=120)
    assert reply["status"] == "ok" and not errors(outputs), outputs
    job = re.search(r"submitted 1 slurm job \(([^)]+)\)", text(outputs)).group(1)
    said = text(outputs, "stderr")
    assert "treadle: 1 of 1 jobs will not start as requested (slurm job {}: PENDING (PartitionConfig), its request " \
           "violates a limit of the partition)".format(job) in said, outputs
    assert "%treadle workers --stop cancels them" in said, said
    shown = status_text(k)
    assert "slurm job {}: PENDING (PartitionConfig) -> will not start as requested".format(job) in shown, shown
    assert slurm.jobs() == [[job, "PENDING"]], slurm.jobs()   # left queued, not cancelled
    reply, outputs, _ = k.run("%treadle workers --stop")
    assert "cancelled 1 job" in text(outputs), outputs
    wait_until(lambda: slurm.jobs() == [], timeout=30, what="no jobs left in SLURM")


@pytest.mark.parametrize("line, says", [
    ("%treadle workers --slurm 2 --sge 1", "--slurm, --sge and --pbs go alone"),
    ("%treadle workers 2 --slurm 1", "--slurm, --sge and --pbs go alone"),
    ("%treadle workers 2 --time 10", "go with --slurm, --sge or --pbs"),
    ("%treadle workers --slurm 0", "must be a positive integer"),
    ("%treadle workers --slurm", "how many jobs?"),
    ("%treadle workers --adapt 1:2", "--adapt goes with --slurm, --sge or --pbs"),
    ("%treadle workers --slurm --adapt 4:1", "MAX must be at least 1 and at least MIN"),
    ("%treadle workers --slurm --adapt lots", "--adapt takes MIN:MAX"),
    ("%treadle workers --remove 1 --slurm 1", "--remove N goes alone"),
])
def test_wrong_batch_options_are_one_line_errors(slurm_kernel, line, says):
    reply, outputs, _ = slurm_kernel.run(line)
    assert reply["status"] == "error" and reply["ename"] == "UsageError", reply
    err = text(outputs, "stderr")
    assert says in err and len(err.strip().splitlines()) == 1, err


def test_secret_only_in_the_environment_is_a_clear_error(slurm):
    """Jobs cannot be handed a secret from the environment: the magic says how to fix it and
    submits nothing."""
    k = Kernel(env=slurm.environment())   # $TREADLE_SECRET only (the tests' default)
    try:
        reply, outputs, _ = k.run("%treadle workers --slurm 1")
        assert reply["status"] == "error" and reply["ename"] == "UsageError", reply
        assert "worker jobs read it from a file" in text(outputs, "stderr"), outputs
        assert slurm.jobs() == []
    finally:
        k.shutdown()
