"""Measuring helpers shared by the benchmark workloads, and the child-process runner.

Every (system, workload) pair runs in its own child process (see `run_child`), under a time
limit; the child prints one line ``RESULT <json>`` on stdout. The parent stops the child and
every process below it (by pid) on a timeout, on Ctrl-C, or when it is itself terminated.
"""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

import psutil

RESULT_PREFIX = "RESULT "


# ---------------------------------------------------------------------------------------------
# In the child: timing, sampling, reporting.

def median_runs(runs):
    """The per-key median of a list of dicts of numbers (keys missing from a run are skipped)."""
    keys = []
    for r in runs:
        for k in r:
            if k not in keys:
                keys.append(k)
    out = {}
    for k in keys:
        values = [r[k] for r in runs if isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool)]
        if values:
            out[k] = statistics.median(values)
    return out


class Phases:
    """Named wall-clock phases: ``with phases("submit"): ...``; `.seconds` maps name -> s."""

    def __init__(self):
        self.seconds = {}

    def __call__(self, name):
        return _Phase(self, name)


class _Phase:
    def __init__(self, phases, name):
        self.phases, self.name = phases, name

    def __enter__(self):
        self.t0 = time.perf_counter()

    def __exit__(self, *exc):
        dt = time.perf_counter() - self.t0
        self.phases.seconds[self.name] = self.phases.seconds.get(self.name, 0.0) + dt


def reset_peak_rss(pid):
    """Resets the kernel's peak RSS of `pid` (VmHWM) to its current RSS; False if not allowed."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss(pid):
    """The kernel's peak RSS of `pid` (VmHWM, bytes) since start or reset_peak_rss; None if unknown."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class RssSampler:
    """Samples the RSS of some processes every `interval` s in a thread; keeps the peaks.

    Entering resets each process's VmHWM (peak_rss), which catches peaks between samples."""

    def __init__(self, pids, interval=0.010):
        self.procs = {pid: psutil.Process(pid) for pid in pids}
        self.interval = interval
        self.peak = {pid: 0 for pid in pids}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self, pid):
        return self.procs[pid].memory_info().rss

    def _run(self):
        while not self._stop.is_set():
            for pid, p in self.procs.items():
                try:
                    rss = p.memory_info().rss
                except psutil.Error:
                    continue
                if rss > self.peak[pid]:
                    self.peak[pid] = rss
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self):
        for pid in self.procs:
            reset_peak_rss(pid)
            self.peak[pid] = self.rss(pid)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        for pid in self.procs:  # one last sample
            try:
                self.peak[pid] = max(self.peak[pid], self.rss(pid))
            except psutil.Error:
                pass


class CpuMeter:
    """CPU seconds (user+system) used by named processes between start() and stop()."""

    def __init__(self, pids):
        self.procs = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.start_times = {}
        self.seconds = {}

    @staticmethod
    def _cpu(p):
        t = p.cpu_times()
        return t.user + t.system

    def start(self):
        self.start_times = {name: self._cpu(p) for name, p in self.procs.items()}

    def stop(self):
        for name, p in self.procs.items():
            try:
                self.seconds[name] = self._cpu(p) - self.start_times[name]
            except psutil.Error:
                pass
        return self.seconds


class SchedCpuMeter:
    """As CpuMeter, in nanoseconds rather than clock ticks: the run time the kernel's scheduler
    counted for every thread of each process (/proc/PID/task/*/schedstat), for figures of a few
    ms per process, where psutil's 10 ms ticks would round to nothing. Threads must outlive the
    measure (a thread that ends in between takes its time with it)."""

    def __init__(self, pids):
        self.pids = dict(pids)
        self.start_ns = {}

    @staticmethod
    def _ns(pid):
        total = 0
        for tid in os.listdir("/proc/{}/task".format(pid)):
            try:
                with open("/proc/{}/task/{}/schedstat".format(pid, tid)) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError, IndexError):
                pass
        return total

    def start(self):
        self.start_ns = {name: self._ns(pid) for name, pid in self.pids.items()}

    def stop(self):
        """{name: CPU seconds since start()}"""
        return {name: (self._ns(pid) - self.start_ns[name]) * 1e-9 for name, pid in self.pids.items()}


def install_sigterm_exit():
    """Turns SIGTERM into SystemExit so that `with` blocks stop their clusters."""
    def handler(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, handler)


def report(result):
    """Prints the child's result line (the parent reads the last such line)."""
    sys.stdout.write(RESULT_PREFIX + json.dumps(result) + "\n")
    sys.stdout.flush()


def child_main(workloads, argv=None):
    """Entry point of a child: ``module.py WORKLOAD --reps N --scale N``."""
    import argparse
    install_sigterm_exit()
    ap = argparse.ArgumentParser()
    ap.add_argument("workload", choices=sorted(workloads))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--scale", type=int, default=None)
    args = ap.parse_args(argv)
    fn = workloads[args.workload]
    runs = []
    for _ in range(args.reps):
        runs.append(fn(args.scale) if args.scale else fn())
    report({"runs": runs, "median": median_runs(runs)})


# ---------------------------------------------------------------------------------------------
# In the parent: running a child under a time limit, and stopping everything it started.

def _tree(pid):
    try:
        p = psutil.Process(pid)
        return [p] + p.children(recursive=True)
    except psutil.Error:
        return []


def stop_tree(proc, grace=5.0):
    """Stops `proc` (a Popen) and every process below it, by pid.

    The child first gets SIGTERM alone, so that it can stop its clusters itself; whatever is
    still alive after `grace` seconds (found from snapshots of the tree taken before and after)
    gets SIGTERM, then SIGKILL.
    """
    snapshot = {p.pid: p for p in _tree(proc.pid)[1:]}
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            for p in _tree(proc.pid)[1:]:
                snapshot.setdefault(p.pid, p)
            proc.kill()
            proc.wait()
    alive = [p for p in snapshot.values() if _running(p)]
    if alive:
        kill_procs(alive, grace)


def _running(p):
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


class _TreeWatch:
    """Remembers every process seen below `pid` (polled), so that processes started in new
    sessions (ipyparallel does so) can still be stopped after their parent has exited."""

    def __init__(self, pid, interval=0.5):
        self.pid = pid
        self.seen = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    def poll(self):
        for p in _tree(self.pid)[1:]:
            self.seen.setdefault(p.pid, p)

    def _run(self, interval):
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(interval)

    def stop(self):
        self._stop.set()
        self._thread.join()

    def leftovers(self):
        return [p for p in self.seen.values() if _running(p)]


def kill_procs(procs, grace=5.0):
    """SIGTERM, then SIGKILL after `grace` s, to each psutil.Process of `procs`."""
    for p in procs:
        try:
            p.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=grace)


def run_child(cmd, timeout, env=None, log=None):
    """Runs `cmd` under `timeout` seconds; returns (result dict or None, error text or None).

    The child runs in its own session, so a Ctrl-C in the terminal reaches only this process,
    which then stops the child's whole tree before re-raising. Processes the child started and
    left running are stopped too.
    """
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    watch = _TreeWatch(proc.pid)
    out_lines, err_lines = [], []

    def pump(stream, sink, echo):
        for line in stream:
            sink.append(line)
            if echo is not None and not line.startswith(RESULT_PREFIX):
                echo.write("    | " + line)
                echo.flush()

    threads = [threading.Thread(target=pump, args=(proc.stdout, out_lines, log), daemon=True),
               threading.Thread(target=pump, args=(proc.stderr, err_lines, None), daemon=True)]
    for t in threads:
        t.start()
    timed_out = False
    try:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            watch.poll()
            stop_tree(proc)
    except BaseException:
        watch.poll()
        stop_tree(proc)
        raise
    finally:
        watch.stop()
        leftovers = watch.leftovers()
        if leftovers:
            kill_procs(leftovers)
        for t in threads:
            t.join(5)
    if timed_out:
        return None, "timed out after {:.0f} s".format(timeout)
    for line in reversed(out_lines):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX):]), None
    tail = "".join(err_lines[-15:]).strip()
    return None, "exit code {}: {}".format(proc.returncode, tail or "(no output)")


# ---------------------------------------------------------------------------------------------
# Floors: what this machine's loopback can do, to read the transfer figure against.

def tcp_floor(nbytes, chunk=1 << 20):
    """GB/s of one `nbytes` send over a 127.0.0.1 TCP socket (Python, recv_into 1 MB pieces)."""
    import socket
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    buf = bytearray(nbytes)

    def receive():
        conn, _ = srv.accept()
        view, got = memoryview(buf), 0
        while got < nbytes:
            n = conn.recv_into(view[got:got + chunk])
            if not n:
                break
            got += n
        conn.close()

    t = threading.Thread(target=receive)
    t.start()
    s = socket.create_connection(srv.getsockname())
    data = bytes(nbytes)
    t0 = time.perf_counter()
    s.sendall(data)
    t.join()
    dt = time.perf_counter() - t0
    s.close()
    srv.close()
    return nbytes / dt / 1e9


def first_touch(nbytes, huge_pages=False):
    """Seconds to write one byte into each 4 KiB page of `nbytes` of fresh anonymous memory: what
    a receive into a new buffer pays before any copy. On a VM whose host backs guest memory
    lazily this is far above a copy (bench/README.md, workload 5); `huge_pages` advises 2 MiB pages."""
    import mmap
    # private, as a worker's memory: a shared anonymous map is shmem, where huge pages are not
    # advised (shmem_enabled) and pages cost as the page cache's
    m = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE)
    try:
        if huge_pages and hasattr(m, "madvise") and hasattr(mmap, "MADV_HUGEPAGE"):
            m.madvise(mmap.MADV_HUGEPAGE)
        t0 = time.perf_counter()
        for at in range(0, nbytes, 4096):
            m[at] = 1
        return time.perf_counter() - t0
    finally:
        m.close()


def zmq_floor(nbytes):
    """GB/s of one `nbytes` ZeroMQ message over tcp://127.0.0.1 (pyzmq, zero-copy send), or None."""
    try:
        import zmq
    except ImportError:
        return None
    ctx = zmq.Context()
    try:
        pull = ctx.socket(zmq.PULL)
        port = pull.bind_to_random_port("tcp://127.0.0.1")
        push = ctx.socket(zmq.PUSH)
        push.connect("tcp://127.0.0.1:{}".format(port))
        push.send(b"x")
        pull.recv()  # connected
        data = bytes(nbytes)
        t0 = time.perf_counter()
        push.send(data, copy=False)
        msg = pull.recv(copy=False)
        dt = time.perf_counter() - t0
        assert len(msg) == nbytes
        push.close(0)
        pull.close(0)
        return nbytes / dt / 1e9
    finally:
        ctx.term()


def spawn_floor(programs, program="true", parallel=2):
    """Milliseconds per program when `parallel` processes each start and reap their share of
    `programs` runs of `program` with posix_spawn, as fast as they can: this machine's own cost
    of an exec, the floor under any engine's program start (2 loops, as 2 single-cpu workers)."""
    import multiprocessing
    path = shutil.which(program)
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(parallel + 1)

    def loop():
        start.wait()
        for _ in range(programs // parallel):
            pid = os.posix_spawn(path, [program], os.environ)
            os.waitpid(pid, 0)

    children = [ctx.Process(target=loop) for _ in range(parallel)]
    for c in children:
        c.start()
    start.wait()
    t0 = time.perf_counter()
    for c in children:
        c.join()
    return (time.perf_counter() - t0) * 1000 / programs
