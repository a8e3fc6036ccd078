"""A private one-node SLURM cluster in a temporary directory: its own munge, its own
slurm.conf, ports away from the defaults (docs/testing.md, "Batch schedulers").

Nothing under /etc is touched: every command finds the cluster through $SLURM_CONF, which
``environment()`` gives. ``stop()`` kills exactly the daemons ``start()`` started (by the pids
they wrote) and cancels every job first.
"""

import os
import shutil
import signal
import socket
import subprocess
import time

CTLD_PORT = 16817
SLURMD_PORT = 16818


class SchedulerDidNotStart(RuntimeError):
    pass


def _tail(path, lines=25):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return "(cannot read {}: {})".format(path, e)


def free_port_pair(first):
    """``first`` and ``first + 1`` if both are free on 127.0.0.1, else the next pair up."""
    for port in range(first, first + 200, 2):
        ok = True
        for p in (port, port + 1):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
        if ok:
            return port
    raise SchedulerDidNotStart("no free pair of ports from {}".format(first))


class SlurmCluster:
    def __init__(self, root):
        self.root = str(root)
        self.host = socket.gethostname().split(".")[0]
        self.conf = os.path.join(self.root, "etc", "slurm.conf")
        self.pids = {}

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def environment(self, base=None):
        env = dict(os.environ if base is None else base)
        env["SLURM_CONF"] = self.conf
        return env

    def _write_config(self, port):
        cpus = 8   # more than this machine has (config_overrides): room for several worker jobs
        d = self.root
        text = """ClusterName=treadletest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld}
SlurmdPort={slurmd}
AuthType=auth/munge
AuthInfo=socket={d}/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/run/slurmctld.pid
SlurmdPidFile={d}/run/slurmd.pid
SlurmctldLogFile={d}/log/slurmctld.log
SlurmdLogFile={d}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
KillWait=5
MinJobAge=600
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP 
""".format(host=self.host, ctld=port, slurmd=port + 1, d=d, cpus=cpus)
        with open(self.conf, "w") as f:
            f.write(text)

    def start(self, timeout=30):
        missing = [p for p in ("munged", "mungekey", "slurmctld", "slurmd", "sbatch") if not shutil.which(p)]
        if missing:
            raise SchedulerDidNotStart("SLURM is not installed (missing {}): ./setup.sh installs slurm-wlm, "
                                       "slurmctld, slurmd, slurm-client and munge".format(", ".join(missing)))
        for sub in ("etc", "munge", "state", "spool", "run", "log"):
            os.makedirs(self.path(sub), exist_ok=True)
        os.chmod(self.path("munge"), 0o700)
        key = self.path("munge", "munge.key")
        subprocess.run(["mungekey", "-c", "-k", key, "-f"], check=True, capture_output=True)
        os.chmod(key, 0o600)
        self._run_daemon("munged", ["munged", "--key-file=" + key, "--socket=" + self.path("munge", "munge.socket"),
                                    "--pid-file=" + self.path("munge", "munged.pid"),
                                    "--log-file=" + self.path("munge", "munged.log"),
                                    "--seed-file=" + self.path("munge", "munge.seed"), "--force"],
                         self.path("munge", "munged.pid"), self.path("munge", "munged.log"), timeout)
        self._write_config(free_port_pair(CTLD_PORT))
        self._run_daemon("slurmctld", ["slurmctld", "-f", self.conf], self.path("run", "slurmctld.pid"),
                         self.path("log", "slurmctld.log"), timeout)
        self._run_daemon("slurmd", ["slurmd", "-f", self.conf], self.path("run", "slurmd.pid"),
                         self.path("log", "slurmd.log"), timeout)
        deadline = time.monotonic() + timeout
        while True:
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True,
                                 env=self.environment()).stdout.strip()
            if out in ("idle", "mixed", "allocated"):
                return
            if time.monotonic() > deadline:
                raise SchedulerDidNotStart("the SLURM node is {!r}, not idle, after {} s.\nslurmctld.log:\n{}\n"
                                           "slurmd.log:\n{}".format(out, timeout, _tail(self.path("log", "slurmctld.log")),
                                                                   _tail(self.path("log", "slurmd.log"))))
            time.sleep(0.1)

    def _run_daemon(self, name, argv, pid_file, log, timeout):
        done = subprocess.run(argv, capture_output=True, text=True, env=self.environment())
        deadline = time.monotonic() + timeout
        while not os.path.exists(pid_file) or not open(pid_file).read().strip():
            if done.returncode != 0 or time.monotonic() > deadline:
                raise SchedulerDidNotStart("{} did not start (exit code {}): {}\n{}:\n{}".format(
                    name, done.returncode, (done.stderr + done.stdout).strip(), log, _tail(log)))
            time.sleep(0.05)
        self.pids[name] = int(open(pid_file).read().strip())

    def jobs(self):
        out = subprocess.run(["squeue", "-h", "-r", "-o", "%i %T"], capture_output=True, text=True,
                             env=self.environment()).stdout
        return [line.split() for line in out.splitlines() if line.strip()]

    def cancel_all(self, timeout=30):
        """Cancels every job and waits until none is left running."""
        if not self.pids.get("slurmctld"):
            return
        subprocess.run(["scancel", "--user", str(os.getuid()) if os.getuid() else "root"],
                       capture_output=True, env=self.environment())
        deadline = time.monotonic() + timeout
        while self.jobs() and time.monotonic() < deadline:
            time.sleep(0.1)

    def stop(self):
        try:
            self.cancel_all()
        finally:
            for name in ("slurmd", "slurmctld", "munged"):
                pid = self.pids.pop(name, None)
                if pid:
                    _kill_and_wait(pid)


def _kill_and_wait(pid, grace=10):
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
