"""treadle's benchmark workloads; run as a child of bench/run.py:

    python3 bench/workloads_treadle.py WORKLOAD [--reps N] [--scale N]

Each repetition starts a fresh local cluster (server + workers as real processes on this
machine), measures, and stops it; the cluster start is not timed.
"""

import os
import struct
import time

import measure
import treadle
from treadle.loom.client import Client, Task, tasks
from treadle.loom.client import plan as _plan

# Time the client's plan encoding on its own: it runs inside Client.submit(), before the
# plan is sent, so "submit" = "encode" (Python) + "send" (the server receiving and
# acknowledging the plan).
_ENCODE_SECONDS = [0.0]
_original_encode = _plan.encode


def _timed_encode(*args, **kwargs):
    t0 = time.perf_counter()
    try:
        return _original_encode(*args, **kwargs)
    finally:
        _ENCODE_SECONDS[0] += time.perf_counter() - t0


_plan.encode = _timed_encode


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
        # not x = c: merge((c, c)) names one input twice, which treadle does not finish
        # (the task stays "assigned" forever; see bench/README.md)
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


def transfer100mb(nbytes=100_000_000):
    """One worker of 2 cpus makes the object (the producer needs 2 cpus); a second worker of
    3 cpus joins; a consumer needing 3 cpus can only run there, so the object must move.
    The same consumer on an object made on the 3-cpu worker itself is the baseline; the
    difference is the transfer."""
    produce = "head -c {} /dev/zero".format(nbytes)
    with treadle.local_cluster(workers=1, cpus=2) as cluster:
        with Client(*cluster.address) as client:
            remote = client.submit_one(tasks.run(produce, request=tasks.cpus(2)))
            client.wait([remote])
            cluster.add_worker(cpus=3)
            cluster.wait_for_workers(2)
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

            local_s = consume(local)
            cpu.start()
            remote_s = consume(remote)
            cpu_s = cpu.stop()
            done = {w["cpus"]: w["tasks_done"] for w in client.status()["workers"]}
    # the 3-cpu worker ran its producer and both consumers
    assert done.get(3) == 3 and done.get(2) == 1, done
    transfer = remote_s - local_s
    out = {
        "bytes": nbytes,
        "consumer_local_s": local_s,
        "consumer_remote_s": remote_s,
        "transfer_s": transfer,
        "gb_per_s": nbytes / transfer / 1e9 if transfer > 0 else None,
        "gb_per_s_no_baseline": nbytes / remote_s / 1e9,
    }
    for name, s in cpu_s.items():
        out["cpu_" + name + "_s"] = s
    # what the loopback itself gives, measured right after with the cluster stopped
    out["tcp_floor_gb_per_s"] = measure.tcp_floor(nbytes)
    out["zmq_floor_gb_per_s"] = measure.zmq_floor(nbytes)
    return out


WORKLOADS = {
    "const10k": const10k,
    "chain10k": chain10k,
    "chain10k_fresh": chain10k_fresh,
    "tree10k": tree10k,
    "plan1m": plan1m,
    "transfer100mb": transfer100mb,
}

if __name__ == "__main__":
    measure.child_main(WORKLOADS)
