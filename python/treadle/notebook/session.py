"""The session of a kernel: the server it uses and the workers it started (local ones as child
processes, remote ones over ssh), each stopped when the kernel shuts down."""

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from ..core import paths
from ..core.address import connect_host
from ..core.connection import Connection
from ..core.processes import child_setup
from ..deploy import submit_workers
from ..deploy.adapt import Adapter, policy_for, retire_idlest
from ..deploy.launchers import launcher_for
from ..deploy.worker_jobs import WorkerJobs
from ..loom.client import Client
from .child_reaper import ChildReaper
from .lost_worker_notices import LostWorkerNotices
from .options import options
from .progress_monitor import ProgressMonitor


class LocalWorker:
    """A treadle-worker process started by this kernel."""

    def __init__(self, proc, cpus, log_path):
        self.proc = proc
        self.cpus = cpus
        self.log_path = log_path

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self, limit=2000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-limit:].decode("utf-8", "replace").strip()
        except OSError:
            return ""


class Session:
    """The server this kernel uses and the local workers it started."""

    def __init__(self, address, where, server=None, track=None, untrack=None):
        host = address[0]
        # The address the server listens on (what workers elsewhere are given), and the one
        # this process connects to (loopback when the server listens on every address).
        self.listen_address = (host, int(address[1]))
        self.address = (connect_host(host), int(address[1]))
        self.where = where               # "embedded in this kernel" / "in this process"
        self._server = server            # an in-process _engine.Server, owned here
        self._track = track or (lambda pid: None)
        self._untrack = untrack or (lambda pid: None)
        self.workers = []
        self.remote = []                 # RemoteWorkers (treadle.remote) started from this kernel
        self.jobs = []                   # WorkerJobs (treadle.deploy) submitted from this kernel
        self._client = None
        self._lock = threading.RLock()
        self._logdir = None
        self._closed = False
        self._said_no_workers = False
        self._monitors = {}              # server address -> ProgressMonitor
        self.adapter = None              # the --adapt loop (treadle.deploy.adapt), if one runs
        self._reaper = ChildReaper()     # a worker that dies (killed, crashed) is no zombie
        self._lost_notices = LostWorkerNotices()

    # -- a client for the magics (not the default client: asking for status starts nothing)

    def client(self):
        # A HyperLoom client: a treadle.Client would become the default client if it came first.
        with self._lock:
            if self._client is None or not self._client.connection.connected:
                self._client = Client(self.address[0], self.address[1], output=None)
            return self._client

    def status(self):
        return self.client().status()

    def lost_worker_lines(self, status=None, live_since_us=None):
        """Lines telling the workers the server lost that the user was not told of yet (from
        ``status``, else the server's status now); each loss before ``live_since_us`` (wall
        clock, µs), or every loss without it, says when it happened."""
        if status is None:
            try:
                # Its client as it is, without the lock: the poller must not wait for workers
                # that start under it (start_workers waits for them there).
                client = self._client
                status = (client if client is not None and client.connection.connected else self.client()).status()
            except Exception:   # no server to ask: nothing to tell
                return []
        return self._lost_notices.news(status, live_since_us)

    # -- workers

    def alive_workers(self):
        with self._lock:
            self.workers = [w for w in self.workers if w.alive() or self._reap(w)]
            return list(self.workers)

    def _reap(self, worker):
        self._untrack(worker.pid)
        return False

    def _child_ended(self, proc):
        """A child ended and was reaped (the reaper's thread): its pid may be reused now, so the
        kernel no longer ends its process group at exit."""
        self._untrack(proc.pid)

    def start_workers(self, count, cpus=1, timeout=30.0):
        """Starts ``count`` workers with ``cpus`` cpus each and waits until they are connected
        (with their Python executors ready); returns the new LocalWorkers."""
        if count < 1:
            raise ValueError("the number of workers must be at least 1")
        if cpus < 1:
            raise ValueError("--cpus must be at least 1")
        program = paths.program("treadle-worker")
        with self._lock:
            if self._closed:
                raise RuntimeError("treadle was shut down in this kernel")
            started = []
            for _ in range(count):
                log_path = os.path.join(self._log_dir(), "worker-{}.log".format(len(self.workers) + len(started) + 1))
                with open(log_path, "wb") as log:
                    proc = subprocess.Popen(
                        [program, "{}:{}".format(*self.address), "--cpus", str(cpus)],
                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                        start_new_session=True, preexec_fn=child_setup(unblock_signals=True))
                self._track(proc.pid)
                self._reaper.watch(proc, self._child_ended)
                started.append(LocalWorker(proc, cpus, log_path))
            self.workers.extend(started)
            try:
                self._wait_connected(started, timeout)
            except BaseException:
                self._stop(started)
                raise
            return started

    def _wait_connected(self, started, timeout):
        """Until each of ``started`` said hello (a worker is named host:pid). Not a count of
        workers: one retiring or lost meanwhile would make the count fall short for ever."""
        deadline = time.monotonic() + timeout
        while True:
            pids = {w.get("name", "").rpartition(":")[2] for w in self.status()["workers"]}
            connected = sum(str(w.pid) in pids for w in started)
            if connected == len(started):
                return
            dead = [w for w in started if not w.alive()]
            if dead:
                w = dead[0]
                tail = w.log_tail()
                raise RuntimeError("treadle-worker exited with code {}{}".format(
                    w.proc.returncode, ": " + tail if tail else ""))
            if time.monotonic() > deadline:
                raise TimeoutError("only {} of {} workers connected within {:.0f} s".format(
                    connected, len(started), timeout))
            time.sleep(0.01)

    def ensure_workers(self):
        """Before the first submission: with no worker connected, starts the automatic ones
        (``options.auto_workers``: one per core unless configured). Not when this kernel asked a
        batch scheduler for workers: they are on their way (and --adapt would count local ones)."""
        with self._lock:
            if self.alive_workers() or self._closed or self.jobs or self.adapter is not None:
                return
            if self.status()["workers"]:
                return
            count = options.auto_worker_count()
            if not count:
                if not self._said_no_workers:
                    self._said_no_workers = True
                    print("treadle: no workers are connected and auto_workers is off: tasks wait until some "
                          "connect (%treadle workers N)")
                return
            self.start_workers(count, cpus=1)
            how = "one per core" if options.auto_workers == "auto" else "auto_workers = {}".format(count)
            print("treadle: started {} local worker{} ({}; %treadle workers N to choose)".format(
                count, "s" if count != 1 else "", how))

    def stop_workers(self):
        """Stops the workers this kernel started, here and on other hosts; returns how many
        there were here (``stop_remote_workers`` tells the others)."""
        with self._lock:
            workers, self.workers = self.workers, []
        self.stop_remote_workers()
        return self._stop(workers)

    def stop_remote_workers(self):
        """Stops the workers started on other hosts; returns how many there were."""
        with self._lock:
            remote, self.remote = self.remote, []
        count = 0
        for r in remote:
            count += sum(n for _, n in r.hosts)
            self._stop_remote(r)
        return count

    def start_remote_workers(self, hosts, cpus=1, python="/usr/bin/python3", ssh_args=()):
        """Starts workers on other hosts over ssh (treadle.remote), connected to this kernel's
        server; returns the RemoteWorkers."""
        from .. import remote  # deliberate: optional, an installation may lack it (ImportError says so)
        with self._lock:
            if self._closed:
                raise RuntimeError("treadle was shut down in this kernel")
            started = remote.start_remote_workers(self.listen_address, hosts, cpus=cpus, python=python,
                                                   ssh_args=ssh_args)
            self.remote.append(started)
            for p in started.processes:
                self._track(p.pid)  # ssh leads its own process group: the kernel ends it at exit
                self._reaper.watch(p, self._child_ended)
            return started

    def submit_worker_jobs(self, scheduler, count, **request):
        """Submits ``count`` worker jobs to a batch scheduler ("slurm", "sge", "pbs"), their
        workers connecting to this kernel's server; returns the WorkerJobs (treadle.deploy)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("treadle was shut down in this kernel")
            jobs = submit_workers(self.listen_address, scheduler, count, **request)  # output: the scheduler's files
            self.jobs.append(jobs)
            return jobs

    def adapt_worker_jobs(self, scheduler, minimum, maximum, say=print, interval=1.0, **request):
        """Submits ``minimum`` worker jobs, then grows and shrinks them between ``minimum`` and
        ``maximum`` with the load (a thread: treadle.deploy.adapt) until the kernel's workers are
        stopped. Jobs it submits join ``self.jobs``. Returns the Adapter."""
        # a bad $TREADLE_ADAPT_IDLE fails before anything changes
        policy = policy_for(minimum, maximum, cpus=request.get("cpus") or 1)
        self.stop_adapting()
        jobs = WorkerJobs(scheduler, [], "{}:{}".format(*self.listen_address))
        with self._lock:
            self.jobs.append(jobs)

        def submit(n):
            made = self.submit_worker_jobs(scheduler, n, **request)
            jobs.ids += made.ids
            with self._lock:
                self.jobs.remove(made)   # counted once, in `jobs`
            return made.ids

        launcher = launcher_for(scheduler)
        connection = Connection(self.address[0], self.address[1], name="treadle adapt")
        adapter = Adapter(connection, policy, submit, launcher.states, launcher.cancel, say=say, interval=interval)
        if minimum:
            adapter.job_ids += submit(minimum)
        with self._lock:
            self.adapter = adapter.start()
        return adapter

    def stop_adapting(self):
        with self._lock:
            adapter, self.adapter = self.adapter, None
        if adapter is not None:
            adapter.stop()
            adapter.connection.close()

    def retire_workers(self, count):
        """Retires ``count`` workers, the least busy first (they hand their results off, then
        stop); returns their names."""
        return retire_idlest(self.client().connection, count)

    def cancel_worker_jobs(self):
        """Cancels the worker jobs submitted from this kernel; returns how many there were."""
        self.stop_adapting()
        with self._lock:
            jobs, self.jobs = self.jobs, []
        for j in jobs:
            try:
                j.cancel()
            except Exception:
                pass  # the scheduler forgot them, or is gone: nothing left to cancel
        return sum(len(j.ids) for j in jobs)

    def describe_worker_jobs(self):
        """One line per job submitted from this kernel (its state, the worker it became), or ""."""
        with self._lock:
            jobs = list(self.jobs)
        if not jobs:
            return ""
        status = self.status()
        lines = []
        for j in jobs:
            try:
                lines.append(j.describe(status))
            except Exception as e:  # the scheduler's commands failed: say so, keep the rest
                lines.append("{} jobs {}: the scheduler did not answer ({})".format(
                    j.scheduler, " ".join(j.ids), str(e).strip().splitlines()[0] if str(e).strip() else e))
        return "\n".join(lines)

    def _stop_remote(self, remote):
        try:
            remote.stop()
        finally:
            for p in remote.processes:
                self._untrack(p.pid)

    def monitor(self, address=None):
        """The ProgressMonitor of the server at ``address`` (this kernel's by default)."""
        address = tuple(address or self.address)
        with self._lock:
            m = self._monitors.get(address)
            if m is None:
                m = self._monitors[address] = ProgressMonitor(address)
            return m

    def monitors(self):
        with self._lock:
            return list(self._monitors.values())

    def _stop(self, workers):
        with self._lock:
            self.workers = [w for w in self.workers if w not in workers]
        for w in workers:
            if w.alive():
                try:
                    w.proc.terminate()
                except OSError:
                    pass
        deadline = time.monotonic() + 5
        for w in workers:
            try:
                w.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(w.pid, signal.SIGKILL)  # its executors end their own groups as it dies
                except OSError:
                    pass
                w.proc.wait()
            self._untrack(w.pid)
        return len(workers)

    def _log_dir(self):
        if self._logdir is None:
            self._logdir = tempfile.mkdtemp(prefix="treadle-kernel-{}-".format(os.getpid()))
        return self._logdir

    def close(self):
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
            monitors, self._monitors = list(self._monitors.values()), {}
        for m in monitors:
            m.close()
        if client is not None:
            try:
                client.close()
            except Exception:
                pass
        self.cancel_worker_jobs()
        self.stop_workers()
        self._reaper.close()
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._logdir is not None:
            shutil.rmtree(self._logdir, ignore_errors=True)
            self._logdir = None
