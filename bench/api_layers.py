"""The IPython and SCOOP layers against the native API, and ipyparallel's load-balanced view
beside them (apt: python3-ipyparallel; skipped when missing), 10,000 tiny tasks each:

    /usr/bin/python3 bench/api_layers.py [--tasks N] [--reps N] [--only ipython,scoop,...]

Each repetition starts a fresh local cluster of 2 one-cpu workers (2 engines; not timed),
runs every way once untimed with ``--warmup`` tasks (executors start on the first Python task,
the function or code is sent once, a first client in a cluster pays for more), then each way
in turn, timed from the first submission to the last result in the client. The ways share the
cluster and run one after the other, so they see about the same machine load; the CPU seconds
(this client, the server, the workers and their executors) are measured too, and on a busy
machine they compare the layers more steadily than wall time does.

- native:      ``futures = [c.submit(square, i) ...]``, ``c.gather(futures)``
- native_map:  ``list(c.map(square, range(N)))``
- ipython:     ``tc.run(client.Task("a = %i" % i, pull="a"))`` N times (a different code string
               per task, as in IPython's text), ``tc.barrier(ids)``, ``tc.get_task_result(id)`` each
- ipython_push: ``Task("a = n * n", push={"n": i}, pull="a")``: one code string, values pushed
- scoop_map:   ``list(futures.map(square, range(N)))`` (treadle.scoop)
- ipyparallel: ``view.apply_async(square, i)`` N times, ``ar.get()`` each, on ``ipp.Cluster(n=2)``

The issue's bar: each layer's per-task cost no more than 1.5x the native API's: ipython and
ipython_push against native, scoop_map against native_map (bench/README.md has the figures).
"""

import argparse
import json
import os
import statistics
import sys
import time

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "prefix", "lib", "treadle", "python"))

import treadle  # noqa: E402
from treadle.ipython import client  # noqa: E402
from treadle.scoop import futures, pool  # noqa: E402

WAYS = ["native", "native_map", "ipython", "ipython_push", "scoop_map"]
BARS = {"ipython": "native", "ipython_push": "native", "scoop_map": "native_map"}


def square(x):
    return x * x


_cluster = {}   # "processes": psutil.Process of the server, the workers and their executors


def _cpu_seconds(processes):
    total = 0.0
    for p in processes:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def timed(fn):
    """Runs ``fn``; records (wall seconds, CPU seconds of this process and the cluster's, and
    {part: CPU seconds} for the client, the server, the workers and the executors)."""
    parts = dict(_cluster["processes"](), client=[psutil.Process()])
    before = {k: _cpu_seconds(v) for k, v in parts.items()}
    t0 = time.perf_counter()
    fn()
    wall = time.perf_counter() - t0
    used = {k: _cpu_seconds(v) - before[k] for k, v in parts.items()}
    _cluster["last"] = (wall, sum(used.values()), used)
    return wall


def native(address, n):
    with treadle.Client(address, output=None) as c:
        c.gather([c.submit(square, i) for i in range(20)])
        result = []
        total = timed(lambda: result.append(c.gather([c.submit(square, i) for i in range(n)])))
    assert result[0][-1] == (n - 1) ** 2
    return total


def native_map(address, n):
    with treadle.Client(address, output=None) as c:
        list(c.map(square, range(20)))
        result = []
        total = timed(lambda: result.append(list(c.map(square, range(n)))))
    assert result[0][-1] == (n - 1) ** 2
    return total


def ipython(address, n):
    with client.TaskClient(address) as tc:
        tc.barrier([tc.run(client.Task("a = 0", pull="a")) for _ in range(20)])

        def run():
            ids = [tc.run(client.Task("a = %i" % i, pull="a")) for i in range(n)]
            tc.barrier(ids)
            result.extend(tc.get_task_result(i) for i in ids)
        result = []
        total = timed(run)
    assert result[-1].ns.a == n - 1
    return total


def ipython_push(address, n):
    with client.TaskClient(address) as tc:
        tc.barrier([tc.run(client.Task("a = n * n", push={"n": 0}, pull="a")) for _ in range(20)])

        def run():
            ids = [tc.run(client.Task("a = n * n", push={"n": i}, pull="a")) for i in range(n)]
            tc.barrier(ids)
            result.extend(tc.get_task_result(i) for i in ids)
        result = []
        total = timed(run)
    assert result[-1].ns.a == (n - 1) ** 2
    return total


def scoop_map(address, n):
    os.environ["TREADLE_ADDRESS"] = "{}:{}".format(*address)   # as python3 -m treadle.scoop sets it
    try:
        list(futures.map(square, range(20)))
        result = []
        total = timed(lambda: result.append(list(futures.map(square, range(n)))))
    finally:
        pool.close()
        del os.environ["TREADLE_ADDRESS"]
    assert result[0][-1] == (n - 1) ** 2
    return total


def ipyparallel(n):
    import logging
    import shutil
    import tempfile

    import ipyparallel as ipp   # only when installed (not a treadle dependency)
    folder = tempfile.mkdtemp(prefix="treadle-bench-ipp-")
    cluster = ipp.Cluster(n=2, profile_dir=folder, log_level=logging.ERROR, shutdown_atexit=True)
    try:
        rc = cluster.start_and_connect_sync()
        rc.wait_for_engines(2, timeout=60)
        view = rc.load_balanced_view()
        [ar.get() for ar in [view.apply_async(square, i) for i in range(20)]]
        result = []
        total = timed(lambda: result.append([ar.get() for ar in [view.apply_async(square, i) for i in range(n)]]))
        rc.close()
    finally:
        cluster.stop_cluster_sync()
        shutil.rmtree(folder, ignore_errors=True)
    assert result[0][-1] == (n - 1) ** 2
    return total


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=10_000)
    p.add_argument("--ipp-tasks", type=int, default=2_000, help="ipyparallel's scale (~3 ms/task)")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--warmup", type=int, default=500, help="untimed tasks of each way first, in each cluster")
    p.add_argument("--only", default=",".join(WAYS + ["ipyparallel"]))
    p.add_argument("--result-line", action="store_true", help="also print 'RESULT {json}' (for bench/run.py)")
    args = p.parse_args()
    only = args.only.split(",")
    ways = [w for w in only if w in WAYS]   # in the order given
    times = {w: [] for w in list(dict.fromkeys(ways)) + ["ipyparallel"]}
    cpus = {w: [] for w in dict.fromkeys(ways)}
    parts = {w: [] for w in dict.fromkeys(ways)}
    for _ in range(args.reps):
        with treadle.local_cluster(workers=2, cpus=1) as cluster:
            server = psutil.Process(cluster.server.pid)
            workers = [psutil.Process(w.pid) for w in cluster.workers]
            # The executors are the workers' children, started on their first Python task.
            _cluster["processes"] = lambda: {"server": [server], "workers": workers,
                                             "executors": [c for w in workers for c in w.children()]}
            for way in dict.fromkeys(ways):   # untimed: each way's first use in a cluster costs more
                globals()[way](cluster.address, args.warmup)
            for way in ways:
                times[way].append(globals()[way](cluster.address, args.tasks))
                cpus[way].append(_cluster["last"][1])
                parts[way].append(_cluster["last"][2])
        if "ipyparallel" in only:
            _cluster["processes"] = dict   # its wall time only: its processes are its own
            try:
                times["ipyparallel"].append(ipyparallel(args.ipp_tasks) * args.tasks / args.ipp_tasks)
            except ImportError:
                pass
    print("{} tiny tasks on 2 one-cpu workers, median of {} (load average {:.1f}):".format(
        args.tasks, args.reps, os.getloadavg()[0]))
    medians = {w: statistics.median(v) for w, v in times.items() if v}
    cpu_medians = {w: statistics.median(v) for w, v in cpus.items() if v}
    print("  {:13} {:>9} {:>14}   {:>9} {:>14}".format("", "wall", "wall ratio", "cpu", "cpu ratio"))
    for way, median in medians.items():
        bar = BARS.get(way)
        row = "  {:13} {:6.1f} us".format(way, median / args.tasks * 1e6)
        row += " {:>14}".format("{:.2f}x {}".format(median / medians[bar], bar) if bar in medians else "")
        if way in cpu_medians:
            row += "   {:6.1f} us".format(cpu_medians[way] / args.tasks * 1e6)
            row += " {:>14}".format("{:.2f}x {}".format(cpu_medians[way] / cpu_medians[bar], bar)
                                    if bar in cpu_medians else "")
        elif way == "ipyparallel":
            row += "   (wall only; measured at {} tasks)".format(args.ipp_tasks)
        print(row)
    print("  (per task; cpu: user+system seconds of this client, the server, the workers and their executors)")
    print("  cpu per task by process (us, medians): " + "; ".join(
        "{} {}".format(w, " ".join("{} {:.0f}".format(k, statistics.median(p[k] for p in v) / args.tasks * 1e6)
                                   for k in ("client", "server", "workers", "executors")))
        for w, v in parts.items() if v))
    print("  runs (wall s): " + "; ".join("{} {}".format(w, " ".join("{:.2f}".format(t) for t in v))
                                          for w, v in times.items() if v))
    if args.result_line:
        out = {"tasks": args.tasks, "ipp_tasks": args.ipp_tasks, "reps": args.reps, "loadavg": os.getloadavg(),
               "wall_us": {w: m / args.tasks * 1e6 for w, m in medians.items()},
               "cpu_us": {w: m / args.tasks * 1e6 for w, m in cpu_medians.items()},
               "cpu_by_process_us": {w: {k: statistics.median(p[k] for p in v) / args.tasks * 1e6
                                         for k in ("client", "server", "workers", "executors")}
                                     for w, v in parts.items() if v},
               "runs_s": {w: v for w, v in times.items() if v}, "bars": BARS}
        print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
