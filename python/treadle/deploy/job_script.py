"""What a worker job asks for, and the shell script every scheduler runs for it.

A worker job runs one ``treadle-worker`` that connects back to the server. The script is the
same for every scheduler but for its directive lines (``#SBATCH``, ``#$``, ``#PBS``, written by
the scheduler's module) and the variable holding the job's id, which the worker reports in its
name (``--job``) so ``treadle-cluster status`` can tell which job became which worker.

The secret never appears in the script nor on a command line: the worker reads it from the
secret file (0600, in the user's home, which the job's host sees on the shared file system);
only the file's path is written here.
"""

import os
import re
import shlex

__all__ = ["JobRequest", "script_body", "time_hms", "time_seconds", "worker_command"]

_TIME = re.compile(r"^(\d+-)?\d+(:\d{1,2}){0,2}$")   # minutes, H:M:S, D-H:M:S (SLURM's forms)
_MEM = re.compile(r"^\d+[KMGTkmgt]?[Bb]?$")
_WORD = re.compile(r"^[A-Za-z0-9_.@+-]+$")


class JobRequest:
    """The worker jobs to submit: ``count`` jobs of one worker each with ``cpus`` cpus, and
    the scheduler options (``None``: the scheduler's default). ``server`` is "host:port" as
    the jobs' hosts reach it; ``secret_file`` the absolute path of the secret file."""

    def __init__(self, count, server, secret_file, cpus=1, time=None, mem=None, partition=None, account=None,
                 name="treadle", log_dir=None, worker="treadle-worker", python="/usr/bin/python3",
                 pythonpath=None, worker_args=(), parallel_env="smp", workdir=None):
        if not isinstance(count, int) or count < 1:
            raise ValueError("the number of worker jobs must be a positive integer, got {!r}".format(count))
        if not isinstance(cpus, int) or cpus < 1:
            raise ValueError("--cpus must be a positive integer, got {!r}".format(cpus))
        if time is not None and not _TIME.match(str(time)):
            raise ValueError("--time {!r}: give minutes, H:MM:SS or D-HH:MM:SS".format(time))
        if mem is not None and not _MEM.match(str(mem)):
            raise ValueError("--mem {!r}: give a size such as 4G or 500M".format(mem))
        for label, value in (("--partition", partition), ("--account", account), ("the job name", name)):
            if value is not None and not _WORD.match(str(value)):
                raise ValueError("{} {!r}: letters, digits and _.@+- only".format(label, value))
        if not os.path.isabs(secret_file):
            raise ValueError("the secret file must be an absolute path, got {!r}".format(secret_file))
        self.count = count
        self.server = server
        self.secret_file = secret_file
        self.cpus = cpus
        self.time = None if time is None else str(time)
        self.mem = None if mem is None else str(mem)
        self.partition = partition
        self.account = account
        self.name = name
        self.log_dir = log_dir
        self.worker = worker
        self.python = python
        self.pythonpath = pythonpath
        self.worker_args = [str(a) for a in worker_args]
        if not _WORD.match(parallel_env or ""):
            raise ValueError("--pe {!r}: letters, digits and _.@+- only".format(parallel_env))
        self.parallel_env = parallel_env    # Grid Engine: the parallel environment giving a job several slots
        self.workdir = workdir              # where the tasks run (relative paths): the submitting directory

    def log_path(self, pattern):
        """Where a job writes its output: ``pattern`` (with the scheduler's placeholders)
        under ``log_dir``, or None to leave it to the scheduler."""
        return os.path.join(self.log_dir, pattern) if self.log_dir else None


def time_seconds(text):
    """A walltime in SLURM's forms (minutes, M:S, H:M:S, D-H, D-H:M, D-H:M:S) in seconds."""
    days, _, rest = text.rpartition("-")
    parts = [int(p) for p in rest.split(":")]
    if days:
        h, m, sec = (parts + [0, 0])[:3]
        return int(days) * 86400 + h * 3600 + m * 60 + sec
    if len(parts) == 1:
        return parts[0] * 60
    if len(parts) == 2:
        return parts[0] * 60 + parts[1]
    return parts[0] * 3600 + parts[1] * 60 + parts[2]


def time_hms(text):
    """A walltime as H:MM:SS (Grid Engine's h_rt, PBS's walltime)."""
    seconds = time_seconds(text)
    return "{}:{:02d}:{:02d}".format(seconds // 3600, seconds // 60 % 60, seconds % 60)


def worker_command(request, job_id_expression):
    """The line that runs the worker; ``job_id_expression`` is shell text giving the job's id
    when the job runs (e.g. ``${SLURM_JOB_ID}``), left unquoted for the shell to expand."""
    argv = [request.worker, request.server, "--cpus", str(request.cpus), "--python", request.python,
            "--secret-file", request.secret_file] + request.worker_args
    return "exec " + " ".join(shlex.quote(a) for a in argv) + ' --job "{}"'.format(job_id_expression)


def script_body(request, job_id_expression):
    """The part after the directives: the environment the tasks need, then the worker."""
    lines = []
    if request.workdir:
        # Every scheduler starts a job somewhere else (SLURM: here, SGE and PBS: home).
        lines.append("cd {} || exit 1".format(shlex.quote(request.workdir)))
    if request.pythonpath:
        # Tasks import the user's modules from the same paths as on the submitting host.
        lines.append("export PYTHONPATH={}".format(shlex.quote(request.pythonpath)))
    lines.append("unset TREADLE_SECRET TREADLE_SECRET_FILE")  # the file given below is the one
    # The job's output is a log read when debugging: with each line's time and level.
    lines.append('export TREADLE_LOG="${TREADLE_LOG:-info}"')
    lines.append(worker_command(request, job_id_expression))
    return "\n".join(lines) + "\n"
