"""Worker jobs submitted to a batch scheduler, and the workers they became.

    from treadle.deploy import submit_workers

    jobs = submit_workers(("10.0.0.5", 9010), "slurm", 4, cpus=2, time="1:00:00")
    print(jobs.describe())       # each job: its scheduler state, and its worker once joined
    jobs.cancel()

This is what ``treadle-cluster start --slurm N`` does once its server runs, and what a
notebook's ``%treadle workers --slurm N`` calls with the kernel's server.

A worker started by a job says which in its name (``HOST:PID (job ID)``, the worker's
``--job``), so jobs and workers are matched by the server's status alone. A job that ends
(walltime, ``scancel``, preemption) takes its worker with it: the server sees a lost worker
and re-places its tasks, as for any other; ``describe()`` says which job ended and why.
"""

import os
import re

from ..core.address import parse as parse_address
from .install import program as program_path
from .job_script import JobRequest
from .launchers import launcher_for
from .secret_file import secret_file_path

__all__ = ["WorkerJobs", "check_job_options", "job_of_worker", "submit_workers"]

_JOB_IN_NAME = re.compile(r"\(job ([^)]+)\)$")


def job_of_worker(name):
    """The job id a worker's name carries (``"node3:1234 (job 77_2)"`` -> ``"77_2"``), or None."""
    match = _JOB_IN_NAME.search(name or "")
    return match.group(1) if match else None


def _server_text(server):
    host, port = parse_address(server)   # ValueError if it is not an address
    if host in ("0.0.0.0", "*", "", "::"):
        raise ValueError("the jobs need an address of the server they can reach, not {!r}".format(host))
    return "{}:{}".format("[{}]".format(host) if ":" in host else host, port)


class WorkerJobs:
    """Jobs of one scheduler (``ids``) whose workers connect to ``server`` ("host:port")."""

    def __init__(self, scheduler, ids, server, log_dir=None):
        self.scheduler = scheduler
        self.ids = list(ids)
        self.server = server
        self.log_dir = log_dir
        self._launcher = launcher_for(scheduler)

    def states(self):
        """``{id: JobState}`` of the jobs the scheduler still knows."""
        return self._launcher.states(self.ids)

    def cancel(self):
        """Cancels every job (their workers are lost to the server, their tasks re-placed)."""
        self._launcher.cancel(self.ids)

    def workers(self, server_status):
        """``{job id: worker}`` for the workers in ``server_status`` (a client's ``status()``)
        that came from these jobs."""
        ours = set(self.ids)
        found = {}
        for w in server_status.get("workers", []):
            job = job_of_worker(w.get("name"))
            if job in ours:
                found[job] = w
        return found

    def describe(self, server_status=None, states=None, remembered=None):
        """One line per job: the scheduler's state (or the last one seen, for a job it has
        forgotten) and the worker it became, as text."""
        states = self.states() if states is None else states
        workers = self.workers(server_status) if server_status is not None else {}
        lines = []
        for job in self.ids:
            state = states.get(job) or (remembered or {}).get(job)
            if state is None:
                what = "unknown to the scheduler (ended long ago?)"
            elif job not in states:
                what = "no longer known to the scheduler; last seen {}".format(state.describe())
            else:
                what = state.describe() + (" on " + state.host if state.host and not state.ended else "")
            worker = workers.get(job)
            if worker is not None:
                where = "worker {} {} ({} cpu{}, {} tasks done)".format(
                    worker["id"], worker["name"], worker["cpus"], "" if worker["cpus"] == 1 else "s",
                    worker.get("tasks_done", 0))
            elif state is not None and (state.ended or job not in states):
                where = "its worker is gone (the server re-placed its tasks)"
            elif state is not None and state.state.upper() in ("RUNNING", "R", "T", "RT"):
                where = "its worker has not joined yet" + self._log_hint(job)
            elif state is not None and state.never_starts and job in states:
                where = "will not start as requested: " + state.never_starts
            else:
                where = "waiting for the scheduler"
            lines.append("{} job {}: {} -> {}".format(self.scheduler, job, what, where))
        return "\n".join(lines)

    def never_starting(self, states):
        """``{job id: JobState}`` of the jobs the scheduler will not start as things stand."""
        return {j: states[j] for j in self.ids if j in states and states[j].never_starts and not states[j].ended}

    def _log_hint(self, job):
        return " (its output: {})".format(self.log_dir) if self.log_dir else ""

    def __repr__(self):
        return "<WorkerJobs {} {}>".format(self.scheduler, " ".join(self.ids))


def check_job_options(scheduler, secret_file, count=1, **options):
    """Raises ValueError for what ``submit_workers`` would refuse in these options (``options``:
    its keywords cpus, time, mem, partition, account, name, parallel_env), submitting nothing:
    ``treadle-cluster start`` checks them before it starts a server."""
    launcher_for(scheduler)
    JobRequest(count, "host:1", secret_file_path(secret_file), **options)


def submit_workers(server, scheduler, count, cpus=1, time=None, mem=None, partition=None, account=None,
                   secret_file=None, log_dir=None, name="treadle", program="treadle-worker",
                   python="/usr/bin/python3", pythonpath=None, worker_args=(), parallel_env="smp"):
    """Submits ``count`` worker jobs to ``scheduler`` ("slurm", "sge" or "pbs"), each one
    ``treadle-worker`` with ``cpus`` cpus connecting to ``server`` ((host, port) or
    "host:port", an address the compute nodes reach). Returns ``WorkerJobs`` at once: the
    jobs may wait in the queue; ``describe()`` tells.

    ``time`` (walltime, e.g. "1:00:00"), ``mem`` (e.g. "4G"), ``partition`` (the queue for
    SGE and PBS), ``account`` and ``parallel_env`` (Grid Engine, for cpus > 1) go to the
    scheduler. The jobs' workers read the secret from
    ``secret_file`` (default: $TREADLE_SECRET_FILE or the per-user file), a 0600 file on the
    shared file system; the secret itself is written nowhere. The jobs run in the current
    directory (on the shared file system), so tasks find relative paths as here. Job output goes to ``log_dir``
    (default: the scheduler's, usually the current directory). The worker program runs on the
    nodes at its path here (``program``: an extended worker's path): a shared file system is
    assumed, as for ssh workers."""
    request = JobRequest(count, _server_text(server), secret_file_path(secret_file), cpus=cpus, time=time, mem=mem,
                         partition=partition, account=account, name=name, log_dir=log_dir,
                         worker=program_path(program), python=python,
                         pythonpath=os.environ.get("PYTHONPATH") if pythonpath is None else pythonpath,
                         worker_args=worker_args, parallel_env=parallel_env, workdir=os.getcwd())
    ids = launcher_for(scheduler).submit(request)
    return WorkerJobs(scheduler, ids, request.server, log_dir)
