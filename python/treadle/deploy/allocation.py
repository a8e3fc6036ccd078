"""Workers on the hosts of the allocation this process runs in (a job script, ``salloc``):
one worker per host with as many cpus as the host's slots, started with the scheduler's own
launcher where it has one, else ssh.

    SLURM        srun --nodes=1 --ntasks=1 --nodelist=HOST --cpus-per-task=SLOTS --overlap ...
    PBS/Torque   pbsdsh -h HOST ...
    Grid Engine  qrsh -inherit -nostdin HOST ...   (a parallel environment with control_slaves)
    otherwise    ssh -T -o BatchMode=yes HOST ...

The launchers run detached (``treadle-cluster start`` returns at once); ``stop`` ends them,
and the scheduler's launcher ends the worker with them (srun forwards SIGTERM, qrsh and
pbsdsh end their remote task). An ssh launcher's worker exits on its own once the server
is stopped (10 s without the server). The secret is read from the secret file by the
workers, never passed on a command line.
"""

import os
import shlex
import shutil
import subprocess

from .hostlists import allocation_hosts
from .install import program

__all__ = ["launcher_argv", "start_workers"]


def launcher_argv(scheduler, host, slots, which=shutil.which):
    """(how, argv prefix) that runs a command on ``host`` of the current allocation."""
    if scheduler == "slurm" and which("srun"):
        return "srun", ["srun", "--nodes=1", "--ntasks=1", "--nodelist=" + host,
                        "--cpus-per-task={}".format(slots), "--overlap", "--kill-on-bad-exit=0", "--quiet"]
    if scheduler == "pbs" and which("pbsdsh"):
        return "pbsdsh", ["pbsdsh", "-h", host]
    if scheduler == "sge" and which("qrsh"):
        return "qrsh", ["qrsh", "-inherit", "-nostdin", host]
    return "ssh", ["ssh", "-T", "-x", "-a", "-o", "BatchMode=yes", host]


def worker_argv(server, cpus, secret_file, job):
    return [program("treadle-worker"), server, "--cpus", str(cpus), "--python", "/usr/bin/python3",
            "--secret-file", secret_file, "--job", job]


def start_workers(server, secret_file, log_dir, cpus_per_worker=None, say=print, environ=None):
    """Starts a worker on each host of the current allocation (``cpus_per_worker``: override
    the host's slot count). Returns ``[{"pid", "host", "how", "log"}]`` of the launchers."""
    environ = os.environ if environ is None else environ
    alloc = allocation_hosts(environ)
    if alloc is None:
        raise RuntimeError("not inside a batch allocation (no SLURM_JOB_ID with a node list, PBS_NODEFILE or "
                           "PE_HOSTFILE): give --slurm N, --sge N or --pbs N to submit worker jobs")
    env = dict(environ)
    env.setdefault("TREADLE_LOG", "info")   # its log files are read when debugging: each line's time and level
    env.pop("TREADLE_SECRET", None)
    launches = []
    for host, slots in alloc.hosts:
        cpus = cpus_per_worker or slots
        how, prefix = launcher_argv(alloc.scheduler, host, cpus)
        argv = worker_argv(server, cpus, secret_file, alloc.job)
        if how == "ssh":
            # ssh runs a shell command line: the environment the tasks need goes in it.
            command = "TREADLE_LOG={} exec ".format(shlex.quote(env["TREADLE_LOG"])) + " ".join(shlex.quote(a) for a in argv)
            if env.get("PYTHONPATH"):
                command = "PYTHONPATH={} {}".format(shlex.quote(env["PYTHONPATH"]), command)
            argv = prefix + [command]
        else:
            argv = prefix + argv
        log = os.path.join(log_dir, "worker-{}-{}.log".format(host, alloc.job))
        with open(log, "ab") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                                    start_new_session=True, close_fds=True)
        launches.append({"pid": proc.pid, "host": host, "how": how, "log": log})
        say("worker on {} ({} cpu{}) started with {} (pid {})".format(host, cpus, "" if cpus == 1 else "s", how,
                                                                    proc.pid))
    return launches
