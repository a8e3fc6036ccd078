"""A one-node Grid Engine cell for the tests: the Debian packages' cell "default" under
/var/lib/gridengine, configured once (idempotently: a queue, a parallel environment, this host
as submit host, jobs from root allowed, a 1 s scheduler interval instead of 15 s) and started
if it is not running. ``stop()`` deletes this user's jobs and kills the daemons only if
``start()`` started them.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from .slurm_cluster import SchedulerDidNotStart, _kill_and_wait, _tail

SGE_ROOT = "/var/lib/gridengine"
SGE_CELL = "default"
SPOOL = "/var/spool/gridengine"

QUEUE = """qname                 all.q
hostlist              {host}
seq_no                0
load_thresholds       NONE
suspend_thresholds    NONE
nsuspend              1
suspend_interval      00:05:00
priority              0
min_cpu_interval      00:05:00
processors            UNDEFINED
qtype                 BATCH INTERACTIVE
ckpt_list             NONE
pe_list               smp
rerun                 FALSE
slots                 8
tmpdir                /tmp
shell                 /bin/bash
prolog                NONE
epilog                NONE
shell_start_mode      unix_behavior
starter_method        NONE
suspend_method        NONE
resume_method         NONE
terminate_method      NONE
notify                00:00:60
owner_list            NONE
user_lists            NONE
xuser_lists           NONE
subordinate_list      NONE
complex_values        NONE
projects              NONE
xprojects             NONE
calendar              NONE
initial_state         default
""" + "".join("{:<21} INFINITY\n".format(limit) for limit in (
    "s_rt", "h_rt", "s_cpu", "h_cpu", "s_fsize", "h_fsize", "s_data", "h_data", "s_stack", "h_stack", "s_core",
    "h_core", "s_rss", "h_rss", "s_vmem", "h_vmem"))

PARALLEL_ENV = """pe_name            smp
slots              999
user_lists         NONE
xuser_lists        NONE
start_proc_args    NONE
stop_proc_args     NONE
allocation_rule    $pe_slots
control_slaves     TRUE
job_is_first_task  TRUE
urgency_slots      min
accounting_summary FALSE
qsort_args         NONE
"""


class GridEngineCell:
    def __init__(self):
        self.host = socket.gethostname()
        self.started = {}

    def environment(self, base=None):
        env = dict(os.environ if base is None else base)
        env.update(SGE_ROOT=SGE_ROOT, SGE_CELL=SGE_CELL)
        return env

    def run(self, *argv, check=True):
        done = subprocess.run(list(argv), capture_output=True, text=True, env=self.environment())
        if check and done.returncode != 0:
            raise SchedulerDidNotStart("{} failed ({}): {}".format(" ".join(argv), done.returncode,
                                                                    (done.stderr + done.stdout).strip()))
        return done

    def _pid(self, path, name):
        # A daemon's pid file outlives it, and on a busy machine its number soon names another
        # process: only a process of the daemon's own name counts.
        try:
            pid = int(open(path).read().strip())
            with open("/proc/{}/comm".format(pid)) as f:
                return pid if f.read().strip() == name else None
        except (OSError, ValueError):
            return None

    def _daemon(self, name, pid_file, log, timeout):
        if self._pid(pid_file, name):
            return
        done = subprocess.run(["/usr/sbin/" + name], capture_output=True, text=True, env=self.environment())
        deadline = time.monotonic() + timeout
        while not self._pid(pid_file, name):
            if time.monotonic() > deadline or done.returncode != 0:
                raise SchedulerDidNotStart("{} did not start (exit code {}): {}\n{}:\n{}".format(
                    name, done.returncode, (done.stderr + done.stdout).strip(), log, _tail(log)))
            time.sleep(0.1)
        self.started[name] = self._pid(pid_file, name)

    def start(self, timeout=60):
        missing = [p for p in ("/usr/sbin/sge_qmaster", "/usr/sbin/sge_execd") if not os.path.exists(p)]
        missing += [p for p in ("qsub", "qconf", "qstat") if not shutil.which(p)]
        if missing or not os.path.isdir(os.path.join(SGE_ROOT, SGE_CELL, "common")):
            raise SchedulerDidNotStart("Grid Engine is not installed or its cell is not configured (missing {}): "
                                       "./setup.sh installs gridengine-master, -exec and -client".format(
                                           ", ".join(missing) or SGE_ROOT + "/" + SGE_CELL))
        # This machine maps its name to 127.0.0.1, which Grid Engine resolves back to "localhost".
        with open(os.path.join(SGE_ROOT, SGE_CELL, "common", "host_aliases"), "w") as f:
            f.write("{} localhost\n".format(self.host))
        self._daemon("sge_qmaster", os.path.join(SPOOL, "qmaster", "qmaster.pid"),
                     os.path.join(SPOOL, "qmaster", "messages"), timeout)
        self._configure()
        # The execd's spool folder is named as Grid Engine resolves this host: "localhost" here.
        self._daemon("sge_execd", os.path.join(SPOOL, "execd", "localhost", "execd.pid"),
                     os.path.join(SPOOL, "execd", "localhost", "messages"), timeout)
        deadline = time.monotonic() + timeout
        while True:
            queue = [l for l in self.run("qstat", "-f", check=False).stdout.splitlines() if l.startswith("all.q@")]
            fields = queue[0].split() if queue else []
            if len(fields) == 5:   # no state column: the queue takes jobs
                return
            if time.monotonic() > deadline:
                raise SchedulerDidNotStart("the Grid Engine queue is not ready after {} s: {!r}\nqmaster:\n{}\n"
                                           "execd:\n{}".format(timeout, queue, _tail(os.path.join(SPOOL, "qmaster", "messages")),
                                                               _tail(os.path.join(SPOOL, "execd", "localhost", "messages"))))
            time.sleep(0.2)

    def _configure(self):
        with tempfile.TemporaryDirectory() as d:
            def load(option, name, text):
                path = os.path.join(d, name)
                with open(path, "w") as f:
                    f.write(text)
                self.run("qconf", option, path)
            if self.run("qconf", "-sp", "smp", check=False).returncode != 0:
                load("-Ap", "smp", PARALLEL_ENV)
            if self.run("qconf", "-sq", "all.q", check=False).returncode != 0:
                load("-Aq", "all.q", QUEUE.format(host=self.host))
            if self.host not in self.run("qconf", "-ss", check=False).stdout.split():
                self.run("qconf", "-as", self.host)
            conf = self.run("qconf", "-sconf", "global").stdout
            if not (re.search(r"^min_uid\s+0$", conf, re.M) and re.search(r"^min_gid\s+0$", conf, re.M)):
                lines = ["{:<28} 0".format(l.split()[0]) if l.split()[:1] in (["min_uid"], ["min_gid"]) else l
                         for l in conf.splitlines()]
                load("-Mconf", "global", "\n".join(lines) + "\n")   # the file is named after the configuration
            sconf = self.run("qconf", "-ssconf").stdout
            if not re.search(r"^schedule_interval\s+0:0:1$", sconf, re.M):
                lines = ["schedule_interval                 0:0:1" if l.startswith("schedule_interval") else l
                         for l in sconf.splitlines()]
                load("-Msconf", "sconf", "\n".join(lines) + "\n")

    def jobs(self):
        out = self.run("qstat", "-g", "d", check=False).stdout
        return [l.split() for l in out.splitlines() if l.split()[:1] and l.split()[0].isdigit()]

    def cancel_all(self, timeout=30):
        if self.jobs():
            self.run("qdel", "-u", "root" if os.getuid() == 0 else os.environ.get("USER", ""), check=False)
        deadline = time.monotonic() + timeout
        while self.jobs() and time.monotonic() < deadline:
            time.sleep(0.2)

    def stop(self):
        try:
            self.cancel_all()
        finally:
            # Both at once: a qmaster's controlled shutdown takes seconds.
            pids = [self.started.pop(name) for name in ("sge_execd", "sge_qmaster") if name in self.started]
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            for pid in pids:
                _kill_and_wait(pid, grace=20)
