"""treadle's benchmark workloads; run as a child of bench/run.py:

    python3 bench/workloads_treadle.py WORKLOAD [--reps N] [--scale N]

Each repetition starts a fresh local cluster (server + workers as real processes on this
machine), measures, and stops it; the cluster start is not timed.
"""

import os
import statistics
import struct
import time

import measure
import treadle
from treadle.loom.client import Client, Task, tasks
from treadle.core import plan as _plan
from treadle.core.client import ClientBase

# Time the client's plan encoding on its own: it runs inside Client.submit(), before the
# plan is sent, so "submit" = "encode" (Python) + "send" (the server receiving and
# acknowledging the plan). The native API's calls of plain arguments go through encode_calls.
_ENCODE_SECONDS = [0.0]


def _timed(encode):
    def timed_encode(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return encode(*args, **kwargs)
        finally:
            _ENCODE_SECONDS[0] += time.perf_counter() - t0
    return timed_encode


_plan.encode = _timed(_plan.encode)
_plan.encode_calls = _timed(_plan.encode_calls)


def _encode_seconds():
    s = _ENCODE_SECONDS[0]
    _ENCODE_SECONDS[0] = 0.0
    return s


def _pids(cluster):
    pids = {"client": os.getpid(), "server": cluster.server.pid}
    for i, w in enumerate(cluster.workers):
        pids["worker{}".format(i)] = w.pid
    return pids


def _run_plan(cluster, root, build_s, n, unit_key, expect=None):
    """Submits `root`, waits, gathers; returns the metrics of one run."""
    with Client(*cluster.address) as client:
        cpu = measure.CpuMeter(_pids(cluster))
        ph = measure.Phases()
        _encode_seconds()
        cpu.start()
        with ph("submit"):
            future = client.submit_one(root)
        with ph("wait"):
            client.wait([future])
        with ph("fetch"):
            result = client.gather([future])[0]
        cpu_s = cpu.stop()
        encode = _encode_seconds()
        if expect is not None:
            expect(result)
        status = client.status()
    total = build_s + sum(ph.seconds.values())
    out = {
        "tasks": n,
        "total_s": total,
        unit_key: total / n * 1e6,
        "tasks_per_s": n / total,
        "build_s": build_s,
        "encode_s": encode,
        "send_s": ph.seconds["submit"] - encode,
        "wait_s": ph.seconds["wait"],
        "fetch_s": ph.seconds["fetch"],
        "engine_s": ph.seconds["submit"] - encode + ph.seconds["wait"] + ph.seconds["fetch"],
        "server_memory_estimate": status["memory"],
    }
    for name, s in cpu_s.items():
        out["cpu_" + name + "_s"] = s
    out["cpu_all_s"] = sum(cpu_s.values())  # what a workload compared with this one reads
    # the client's own CPU in the engine phases excludes build, which ran before cpu.start()
    return out


# ---------------------------------------------------------------------------------------------
# 1. independent const tasks gathered as one array

def const10k(n=10_000):
    with treadle.local_cluster(workers=2, cpus=1) as cluster:
        t0 = time.perf_counter()
        root = tasks.array_make([tasks.const(b"x") for _ in range(n)])
        build = time.perf_counter() - t0

        def expect(r):
            assert len(r) == n and r[0] == b"x", r[:3]
        return _run_plan(cluster, root, build, n, "us_per_task", expect)


# ---------------------------------------------------------------------------------------------
# 2. a chain of merges: x = merge((x, c)), each step needs the previous one

def chain10k(n=10_000):
    """The appended const is one shared task, so the chain is n dependent merges."""
    with treadle.local_cluster(workers=2, cpus=1) as cluster:
        t0 = time.perf_counter()
        c = tasks.const(b"x")
        # the first x is a const of its own, as in the figures this workload was first measured with
        x = tasks.const(b"x")
        for _ in range(n):
            x = tasks.merge((x, c))
        build = time.perf_counter() - t0

        def expect(r):
            assert r == b"x" * (n + 1), len(r)
        return _run_plan(cluster, x, build, n, "us_per_step", expect)


def chain10k_fresh(n=10_000):
    """As chain10k, but each step merges a fresh const (2n tasks; consts may land elsewhere)."""
    with treadle.local_cluster(workers=2, cpus=1) as cluster:
        t0 = time.perf_counter()
        x = tasks.const(b"x")
        for _ in range(n):
            x = tasks.merge((x, tasks.const(b"x")))
        build = time.perf_counter() - t0

        def expect(r):
            assert r == b"x" * (n + 1), len(r)
        return _run_plan(cluster, x, build, n, "us_per_step", expect)


# ---------------------------------------------------------------------------------------------
# 3. a binary merge tree: const leaves, pairwise merges up to one root

def tree10k(leaves=5_000):
    with treadle.local_cluster(workers=2, cpus=1) as cluster:
        t0 = time.perf_counter()
        level = [tasks.const(b"x") for _ in range(leaves)]
        count = len(level)
        while len(level) > 1:
            nxt = [tasks.merge((level[i], level[i + 1])) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            count += len(level) // 2
            level = nxt
        build = time.perf_counter() - t0

        def expect(r):
            assert r == b"x" * leaves, len(r)
        return _run_plan(cluster, level[0], build, count, "us_per_task", expect)


# ---------------------------------------------------------------------------------------------
# 3b. the server's fan-out: the same light plan on 2 and on 32 single-cpu workers

def _const_plan_run(cluster, n):
    """const10k's plan (n consts gathered by one array_make) on a warmed cluster: the engine's
    part only (submit to gathered result) and the CPU seconds of the server and of all workers
    (nanosecond meters: the server spends a few tens of ms on the whole plan)."""
    root = tasks.array_make([tasks.const(b"x") for _ in range(n)])
    cpu = measure.SchedCpuMeter(_pids(cluster))
    with Client(*cluster.address) as client:
        cpu.start()
        t0 = time.perf_counter()
        result = client.submit_one(root).gather()
        engine_s = time.perf_counter() - t0
        cpu_s = cpu.stop()
    assert len(result) == n and result[0] == b"x", result[:3]
    return {"engine_s": engine_s, "tasks_per_s": n / engine_s,
            "server_cpu_us_per_task": cpu_s["server"] / n * 1e6,
            "workers_cpu_us_per_task": sum(s for k, s in cpu_s.items() if k.startswith("worker")) / n * 1e6}


def _settled_cluster(workers):
    """A local cluster whose workers have their Python executors up (they start with the
    worker: 32 interpreters starting would otherwise take the cpus from the timed part)."""
    cluster = treadle.local_cluster(workers=workers, cpus=1)
    deadline = time.monotonic() + 120
    while not all(_executors(cluster).values()):
        if time.monotonic() > deadline:
            cluster.close()
            raise RuntimeError("the workers did not start their executors")
        time.sleep(0.05)
    _const_plan_run(cluster, 100)  # connections between workers, first compute batches
    return cluster


def w32(n=10_000, small=2, large=32, plans=5):
    """3b: const10k's plan on 2, then on 32 workers of 1 cpu (oversubscribed on this machine),
    back to back, `plans` times on each cluster (medians): throughput and server CPU per task,
    and the 32-worker / 2-worker ratios."""
    out = {"tasks": n}
    for workers in (small, large):
        with _settled_cluster(workers) as cluster:
            runs = [_const_plan_run(cluster, n) for _ in range(plans)]
        for k, v in measure.median_runs(runs).items():
            out["{}_w{}".format(k, workers)] = v
    out["throughput_ratio"] = out["tasks_per_s_w%d" % large] / out["tasks_per_s_w%d" % small]
    out["server_cpu_ratio"] = out["server_cpu_us_per_task_w%d" % large] / out["server_cpu_us_per_task_w%d" % small]
    out["loadavg"] = os.getloadavg()[0]
    return out


# ---------------------------------------------------------------------------------------------
# 4. a large plan: n const leaves, array_make per chunk, array_make of the chunks, its length

def plan1m(n=1_000_000, chunk=1000):
    with treadle.local_cluster(workers=2, cpus=1) as cluster:
        pids = _pids(cluster)
        with Client(*cluster.address) as client:
            client_rss0 = measure.psutil.Process().memory_info().rss
            t0 = time.perf_counter()
            chunks = [tasks.array_make([tasks.const(b"x") for _ in range(min(chunk, n - i))])
                      for i in range(0, n, chunk)]
            root = tasks.length(tasks.array_make(chunks))
            build = time.perf_counter() - t0
            count = n + len(chunks) + 2
            client_build_bytes = measure.psutil.Process().memory_info().rss - client_rss0
            cpu = measure.CpuMeter(pids)
            sampler = measure.RssSampler([pids["server"], pids["worker0"], pids["worker1"]])
            server_before = sampler.rss(pids["server"])
            workers_before = sampler.rss(pids["worker0"]) + sampler.rss(pids["worker1"])
            _encode_seconds()
            cpu.start()
            with sampler:
                t1 = time.perf_counter()
                future = client.submit_one(root)
                t2 = time.perf_counter()
                estimate_submitted = client.status()["memory"]
                value = future.gather()
                t3 = time.perf_counter()
            cpu_s = cpu.stop()
            hwm = measure.peak_rss(pids["server"])
            encode = _encode_seconds()
            assert struct.unpack("<Q", value)[0] == len(chunks), value
            status = client.status()
            server_after = sampler.rss(pids["server"])
        peak = sampler.peak[pids["server"]]
        out = {
            "tasks": count,
            "build_s": build,
            "encode_s": encode,
            "send_s": (t2 - t1) - encode,
            "build_submit_s": build + (t2 - t1),
            "run_s": t3 - t2,
            "total_s": build + (t3 - t1),
            "us_per_task": (build + (t3 - t1)) / count * 1e6,
            "server_rss_before": server_before,
            "server_rss_peak": peak,
            "server_rss_after": server_after,
            "server_bytes_per_task": (peak - server_before) / count,
            # The kernel's peak (VmHWM, reset just before submit): no peak falls between samples.
            "server_hwm_bytes_per_task": (hwm - server_before) / count if hwm else None,
            "server_estimate_submitted": estimate_submitted,
            "server_estimate_bytes_per_task": estimate_submitted / count,
            "server_estimate_done": status["memory"],
            "workers_rss_peak_growth": sampler.peak[pids["worker0"]] + sampler.peak[pids["worker1"]] - workers_before,
            "client_build_bytes_per_task": client_build_bytes / count,
            "rss_samples": sampler.samples,
        }
        for name, s in cpu_s.items():
            out["cpu_" + name + "_s"] = s
        return out


# ---------------------------------------------------------------------------------------------
# 5. a 100 MB object moved between two workers

def _size_task(input, cpus):  # noqa: A002
    """tasks.size() with a resource request, so that it can only run on a big enough worker."""
    return Task(tasks.SIZE, (input,), b"", resource_request=tasks.cpus(cpus))


def _transfer_once(nbytes, handoff, later=0, later_pause=5.0, prefault=0):
    """One worker of 2 cpus makes the object (the producer needs 2 cpus); a second worker of
    3 cpus joins; a consumer needing 3 cpus can only run there, so the object must move.
    The same consumer on an object made on the 3-cpu worker itself is the baseline; the
    difference is the transfer. `handoff` False: the workers fetch over the network even on
    one host (TREADLE_SAME_HOST_HANDOFF=0). Then `later` more objects go the same way, each
    once the one before was freed on both workers and `later_pause` seconds passed (a user's
    next cell; time enough for this VM's host to take freed memory back): what a worker that
    already received an object pays (it may reuse that object's memory), apart from the first
    transfer on a fresh worker. `prefault` (bytes): the consumer worker touches that much of its
    receive pool as it starts (--receive-pool-prefault), and the transfer waits until it has."""
    produce = "head -c {} /dev/zero".format(nbytes)
    saved = os.environ.get("TREADLE_SAME_HOST_HANDOFF")
    os.environ["TREADLE_SAME_HOST_HANDOFF"] = "1" if handoff else "0"
    later_runs = []
    try:
        with treadle.local_cluster(workers=1, cpus=2) as cluster:
            with Client(*cluster.address) as client:
                # all made before the 3-cpu worker joins: the 2-cpu one is the only place then
                remotes = client.submit([tasks.run(produce, request=tasks.cpus(2)) for _ in range(1 + later)])
                client.wait(remotes)
                remote = remotes.pop(0)
                cluster.add_worker(cpus=3, args=["--receive-pool-prefault", str(prefault)] if prefault else [])
                cluster.wait_for_workers(2)
                deadline = time.time() + 30
                while prefault and time.time() < deadline and not any(
                        w["cpus"] == 3 and w.get("receive_pool", 0) >= prefault for w in client.status()["workers"]):
                    time.sleep(0.05)
                local = client.submit_one(tasks.run(produce, request=tasks.cpus(3)))
                client.wait([local])
                pids = _pids(cluster)
                cpu = measure.CpuMeter(pids)

                def consume(obj):
                    t0 = time.perf_counter()
                    value = client.submit_one(_size_task(obj, 3)).gather()
                    dt = time.perf_counter() - t0
                    assert struct.unpack("<Q", value)[0] == nbytes, value
                    return dt

                def objects_held():
                    return sorted((w["cpus"], w.get("objects", -1)) for w in client.status()["workers"])

                local_s = consume(local)
                cpu.start()
                remote_s = consume(remote)
                cpu_s = cpu.stop()
                for _ in range(later):
                    held_before = objects_held()
                    remote.release()  # freed on both workers once their heartbeats say so
                    deadline = time.time() + 30
                    while objects_held() == held_before and time.time() < deadline:
                        time.sleep(0.05)
                    time.sleep(later_pause)
                    remote = remotes.pop(0)
                    later_cpu = measure.CpuMeter(pids)
                    later_cpu.start()
                    later_runs.append((consume(remote), later_cpu.stop()))
                workers = client.status()["workers"]
    finally:
        if saved is None:
            os.environ.pop("TREADLE_SAME_HOST_HANDOFF", None)
        else:
            os.environ["TREADLE_SAME_HOST_HANDOFF"] = saved
    done = {w["cpus"]: w["tasks_done"] for w in workers}
    # the 3-cpu worker ran its producer and all consumers
    assert done.get(3) == 3 + later and done.get(2) == 1 + later, done
    # the consumer is the second worker started: worker1
    return local_s, remote_s, cpu_s, later_runs


def transfer100mb(nbytes=100_000_000, later=3):
    """The object moved between two workers on this host twice: by same-host handoff (its
    file is linked, no bytes move) and through the network path (handoff off), where the
    first transfer into a fresh worker and `later` ones into the same worker are apart."""
    out = {"bytes": nbytes}
    local_s, remote_s, cpu_s, _ = _transfer_once(nbytes, handoff=True)
    out.update({"same_host_consumer_local_s": local_s, "same_host_consumer_remote_s": remote_s,
                "same_host_s": remote_s - local_s})
    for name, s in cpu_s.items():
        out["same_host_cpu_" + name + "_s"] = s
    local_s, remote_s, cpu_s, later_runs = _transfer_once(nbytes, handoff=False, later=later)
    transfer = remote_s - local_s
    out.update({
        "consumer_local_s": local_s,
        "consumer_remote_s": remote_s,
        "transfer_s": transfer,
        "gb_per_s": nbytes / transfer / 1e9 if transfer > 0 else None,
        "gb_per_s_no_baseline": nbytes / remote_s / 1e9,
    })
    for name, s in cpu_s.items():
        out["cpu_" + name + "_s"] = s
    if later_runs:
        later_s = [t - local_s for t, _ in later_runs]
        out["later_transfer_s"] = later_s
        out["later_gb_per_s"] = nbytes / statistics.median(later_s) / 1e9 if statistics.median(later_s) > 0 else None
        out["later_cpu_worker1_s"] = [c.get("worker1") for _, c in later_runs]
        out["later_median_s"] = statistics.median(later_s)  # scalars: medians over reps keep them
        out["later_gb_per_s_no_baseline"] = nbytes / statistics.median(t for t, _ in later_runs) / 1e9
        out["later_median_cpu_worker1_s"] = statistics.median(c.get("worker1", 0) for _, c in later_runs)
    # the first transfer again, into a fresh worker whose pool was touched as it started
    local_s, remote_s, cpu_s, _ = _transfer_once(nbytes, handoff=False, prefault=128 << 20)
    out["prefault_transfer_s"] = remote_s - local_s
    out["prefault_cpu_worker1_s"] = cpu_s.get("worker1")
    # what the loopback itself gives, measured right after with the cluster stopped, and what
    # touching fresh memory costs here (it can dominate both floors and transfers on a VM)
    out["tcp_floor_gb_per_s"] = measure.tcp_floor(nbytes)
    out["zmq_floor_gb_per_s"] = measure.zmq_floor(nbytes)
    out["first_touch_s"] = measure.first_touch(nbytes)
    out["first_touch_huge_s"] = measure.first_touch(nbytes, huge_pages=True)
    return out




# ---------------------------------------------------------------------------------------------
# 5b. external programs: what starting one costs (sandbox, exec, outputs), HyperLoom's home

def run1k(n=1_000):
    with treadle.local_cluster(workers=2, cpus=1) as cluster:
        t0 = time.perf_counter()
        root = tasks.array_make([tasks.run("true") for _ in range(n)])
        build = time.perf_counter() - t0

        def expect(r):
            assert len(r) == n and r[0] == b"", r[:3]
        out = _run_plan(cluster, root, build, n, "us_per_task", expect)
        out["ms_per_program"] = out["us_per_task"] / 1000
    # the machine's own exec cost, measured right after with the cluster stopped
    out["spawn_floor_ms"] = measure.spawn_floor(n)
    return out



def run1k_two_outputs(n=1_000):
    """5c: 9b's programs through the HyperLoom API: ``tee copy`` of a small constant with two
    outputs (the file and standard output), the files joined by one merge."""
    with treadle.local_cluster(workers=2, cpus=1) as cluster:
        t0 = time.perf_counter()
        runs = [tasks.run("tee copy", stdin=tasks.const(b"%d," % i), outputs=("copy", None)) for i in range(n)]
        root = tasks.merge([tasks.get(r, 0) for r in runs])
        build = time.perf_counter() - t0

        def expect(r):
            assert r == b"".join(b"%d," % i for i in range(n)), r[:20]
        return _run_plan(cluster, root, build, n, "us_per_task", expect)

# ---------------------------------------------------------------------------------------------
# 6-8. Python functions as tasks, run by the workers' executors (one per cpu).
#
# The functions below live in this script, which runs as __main__: they travel by value
# (cloudpickle), like functions defined in a notebook, once per client, and are unpickled once
# per executor. Each repetition starts a fresh cluster, then warms its executors with another
# function (an executor starts on its worker's first Python task; not timed, as the cluster
# start is not), so the timed part does include pickling, shipping and unpickling `square`.

# Time the client's submits too: the native API sends its calls in batches from inside the
# loop of calls (at 4,096 unsent calls), from a timer thread (5 ms after the first call), and
# when something waits, so "build" is the loop's time minus the submits inside it.
# Both APIs' clients submit through core's ClientBase (the native one's calls of plain
# arguments through submit_calls).
_SUBMIT_SECONDS = [0.0]


def _timed_submit(submit):
    def timed_submit(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return submit(self, *args, **kwargs)
        finally:
            _SUBMIT_SECONDS[0] += time.perf_counter() - t0
    return timed_submit


ClientBase.submit = _timed_submit(ClientBase.submit)
ClientBase.submit_calls = _timed_submit(ClientBase.submit_calls)


def _submit_seconds():
    s = _SUBMIT_SECONDS[0]
    _SUBMIT_SECONDS[0] = 0.0
    return s


@treadle.task
def square(x):
    return x * x


@tasks.py_task(n_direct_args=1)
def loom_square(i):
    """HyperLoom's style: a direct argument in, bytes out."""
    return str(i * i).encode()


@treadle.task
def nap(i):
    """Sleeps 10 ms; returns i and when and where it ran, to see the gaps between tasks."""
    t0 = time.perf_counter()
    time.sleep(0.010)
    return i, os.getpid(), t0, time.perf_counter()


@treadle.task
def inc(x):
    """The previous step's value + 1, and when and where this step ran."""
    t0 = time.perf_counter()
    return x[0] + 1, os.getpid(), t0, time.perf_counter()


@treadle.task
def _warm(i):
    time.sleep(0.05)
    return i


def _executors(cluster):
    """{worker index: [executor psutil.Process, ...]}: the workers' child processes."""
    out = {}
    for i, w in enumerate(cluster.workers):
        try:
            out[i] = measure.psutil.Process(w.pid).children(recursive=True)
        except measure.psutil.Error:
            out[i] = []
    return out


def _warm_up(cluster, client):
    """Runs a few 50 ms tasks of another function until every worker has its executor(s);
    returns the seconds the first round took (executor start included)."""
    first = None
    for _ in range(10):
        t0 = time.perf_counter()
        client.gather([_warm(i) for i in range(2 * len(cluster.workers))])
        if first is None:
            first = time.perf_counter() - t0
        if all(_executors(cluster).values()):
            return first
    raise RuntimeError("the workers did not all start a Python executor: {}".format(_executors(cluster)))


def _pids_all(cluster):
    """client, server, workers, and the workers' executors (execI, or execI_J if several)."""
    pids = _pids(cluster)
    for i, procs in _executors(cluster).items():
        for j, p in enumerate(procs):
            pids["exec{}".format(i) if len(procs) == 1 else "exec{}_{}".format(i, j)] = p.pid
    return pids


def _tasks_done(client):
    return [w["tasks_done"] for w in sorted(client.status()["workers"], key=lambda w: w["id"])]


class _PyRun:
    """A fresh cluster, the native client as the default one, warmed executors; meters."""

    def __enter__(self):
        self.cluster = treadle.local_cluster(workers=2, cpus=1)
        try:
            self.client = treadle.Client(self.cluster, output=None)
            treadle.set_default_client(self.client)
            self.warmup_s = _warm_up(self.cluster, self.client)
            self.done0 = _tasks_done(self.client)
            self.cpu = measure.CpuMeter(_pids_all(self.cluster))
        except BaseException:
            self.__exit__()
            raise
        _encode_seconds()
        _submit_seconds()
        return self

    def start(self):
        self.machine0 = measure.psutil.cpu_times()
        self.cpu.start()

    def finish(self, out, total_s, n):
        """Adds CPU, the engine's split of the tasks per worker, and the meter readings."""
        cpu_s = self.cpu.stop()
        done = _tasks_done(self.client)
        out.update({"tasks": n, "total_s": total_s, "warmup_s": self.warmup_s})
        for i, (a, b) in enumerate(zip(self.done0, done)):
            out["tasks_worker{}".format(i)] = b - a
        for name, s in cpu_s.items():
            out["cpu_" + name + "_s"] = s
        out["cpu_all_s"] = sum(cpu_s.values())
        out["cpu_busy"] = out["cpu_all_s"] / total_s / (os.cpu_count() or 1)
        # the whole machine's CPU use meanwhile, other sessions included (1.0 = every cpu busy)
        a, b = self.machine0, measure.psutil.cpu_times()
        spent = sum(b) - sum(a)
        idle = (b.idle - a.idle) + (getattr(b, "iowait", 0) - getattr(a, "iowait", 0))
        out["machine_busy"] = (spent - idle) / spent if spent > 0 else None
        return out

    def __exit__(self, *exc):
        treadle.set_default_client(None)
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        self.cluster.close()


def _native_phases(build_loop_s, flush_s):
    """Splits the client's part (loop of calls + final flush) into build / encode / send."""
    submit = _submit_seconds()
    encode = _encode_seconds()
    client_s = build_loop_s + flush_s
    return {"client_s": client_s, "build_s": max(0.0, client_s - submit), "encode_s": encode,
            "send_s": submit - encode}


def _native_gather(make, n, unit_key, check, after=None):
    """make(n) (a list of futures), then wait and gather: the shape of 6b, 7 and 8.
    `after(client, values, t0, t_end, out)`, if given, runs once the timing is over (with
    the cluster still up), to add diagnostics to `out`."""
    with _PyRun() as run:
        run.start()
        t0 = time.perf_counter()
        futures = make(n)
        t1 = time.perf_counter()
        run.client.flush()
        t2 = time.perf_counter()
        run.client.wait(futures)
        t3 = time.perf_counter()
        values = run.client.gather(futures)
        t4 = time.perf_counter()
        out = _native_phases(t1 - t0, t2 - t1)
        out.update({"wait_s": t3 - t2, "fetch_s": t4 - t3})
        run.finish(out, t4 - t0, n)
        check(values)
        if after is not None:
            after(run.client, values, t0, t4, out)
    out[unit_key] = out["total_s"] / n * 1e6
    out["tasks_per_s"] = n / out["total_s"]
    return out


def py10k_loom(n=10_000):
    """6a: n `@tasks.py_task()` calls gathered by one array_make (HyperLoom's API)."""
    with _PyRun() as run:
        with Client(*run.cluster.address, output=None) as client:
            run.start()
            t0 = time.perf_counter()
            root = tasks.array_make([loom_square(i) for i in range(n)])
            t1 = time.perf_counter()
            future = client.submit_one(root)
            t2 = time.perf_counter()
            client.wait([future])
            t3 = time.perf_counter()
            values = client.gather([future])[0]
            t4 = time.perf_counter()
            _submit_seconds()
            encode = _encode_seconds()
            out = {"build_s": t1 - t0, "client_s": t2 - t0, "encode_s": encode, "send_s": t2 - t1 - encode,
                   "wait_s": t3 - t2, "fetch_s": t4 - t3}
            run.finish(out, t4 - t0, n)
    assert len(values) == n and values[3] == b"9" and values[-1] == str((n - 1) ** 2).encode(), values[:4]
    out["us_per_task"] = out["total_s"] / n * 1e6
    out["tasks_per_s"] = n / out["total_s"]
    return out


def py10k(n=10_000):
    """6b: ``[square(i) for i in range(n)]`` and ``client.gather`` (native API)."""
    def check(values):
        assert values == [i * i for i in range(n)], values[:4]
    return _native_gather(lambda n: [square(i) for i in range(n)], n, "us_per_task", check)


def py10k_map(n=10_000):
    """6c: ``list(client.map(square, range(n)))`` (native API; results come 256 at a time)."""
    with _PyRun() as run:
        run.start()
        t0 = time.perf_counter()
        it = run.client.map(square, range(n))
        values = [next(it)]
        t1 = time.perf_counter()
        values.extend(it)
        t2 = time.perf_counter()
        submit = _submit_seconds()
        encode = _encode_seconds()
        out = {"encode_s": encode, "send_s": submit - encode, "first_result_s": t1 - t0, "run_s": t2 - t0}
        run.finish(out, t2 - t0, n)
    assert values == [i * i for i in range(n)], values[:4]
    out["us_per_task"] = out["total_s"] / n * 1e6
    out["tasks_per_s"] = n / out["total_s"]
    return out


def _sleep_floor(calls=100, seconds=0.010):
    """Mean wall time of one time.sleep(seconds) here, now (timer slack, load)."""
    t0 = time.perf_counter()
    for _ in range(calls):
        time.sleep(seconds)
    return (time.perf_counter() - t0) / calls


def _timeline(stamps, t0, t_end, out):
    """From (pid, start, end) per task (perf_counter is one clock for all processes here):
    how long tasks ran, the gaps between a task's end and the next start on the same
    executor (hand-off: result to worker, next task to executor), the first start after the
    first call and the time from the last end to the client having every result."""
    by_pid = {}
    for pid, a, b in stamps:
        by_pid.setdefault(pid, []).append((a, b))
    gaps, runs = [], []
    for spans in by_pid.values():
        spans.sort()
        runs.extend(b - a for a, b in spans)
        gaps.extend(spans[k + 1][0] - spans[k][1] for k in range(len(spans) - 1))
    out["task_run_mean_us"] = 1e6 * sum(runs) / len(runs)
    if gaps:
        out["gap_median_us"] = 1e6 * measure.statistics.median(gaps)
        out["gap_mean_us"] = 1e6 * sum(gaps) / len(gaps)
    out["first_start_ms"] = 1e3 * (min(a for _, a, _ in stamps) - t0)
    out["tail_ms"] = 1e3 * (t_end - max(b for _, _, b in stamps))
    out["executors_used"] = len(by_pid)


def sleep1k(n=1_000):
    """7: n tasks of time.sleep(0.010) on 2 single-cpu workers; ideal = n * 10 ms / 2."""
    floor = _sleep_floor()

    def check(values):
        assert [v[0] for v in values] == list(range(n)), values[:4]

    def after(client, values, t0, t_end, out):
        _timeline([v[1:] for v in values], t0, t_end, out)
    out = _native_gather(lambda n: [nap(i) for i in range(n)], n, "us_per_task", check, after)
    ideal = n * 0.010 / 2
    out.update({"ideal_s": ideal, "efficiency_pct": 100 * ideal / out["total_s"],
                "sleep_call_s": floor, "ideal_measured_s": n * floor / 2,
                "efficiency_vs_measured_pct": 100 * (n * floor / 2) / out["total_s"]})
    return out


def pychain1k(n=1_000):
    """8: n dependent Python tasks, each taking the previous one's future: x = inc(x)."""
    steps = []

    def make(n):
        x = inc((0,))
        steps.append(x)
        for _ in range(n - 1):
            x = inc(x)
            steps.append(x)  # kept (not timed) to read each step's timestamps afterwards
        return [x]

    def check(values):
        assert values[0][0] == n, values

    def after(client, values, t0, t_end, out):
        stamps = [v[1:] for v in client.gather(steps)]
        _timeline(stamps, t0, t_end, out)
        # consecutive steps in chain order: from one step's end to the next one's start
        handoffs = [stamps[k + 1][1] - stamps[k][2] for k in range(len(stamps) - 1)]
        out["handoff_median_us"] = 1e6 * measure.statistics.median(handoffs)
        out["handoff_mean_us"] = 1e6 * sum(handoffs) / len(handoffs)
        out["executor_switches"] = sum(1 for k in range(len(stamps) - 1) if stamps[k + 1][0] != stamps[k][0])
    return _native_gather(make, n, "us_per_step", check, after)


WORKLOADS = {
    "const10k": const10k,
    "chain10k": chain10k,
    "chain10k_fresh": chain10k_fresh,
    "tree10k": tree10k,
    "w32": w32,
    "plan1m": plan1m,
    "transfer100mb": transfer100mb,
    "run1k": run1k,
    "run1k_two_outputs": run1k_two_outputs,
    "py10k_loom": py10k_loom,
    "py10k": py10k,
    "py10k_map": py10k_map,
    "sleep1k": sleep1k,
    "pychain1k": pychain1k,
}

if __name__ == "__main__":
    measure.child_main(WORKLOADS)
