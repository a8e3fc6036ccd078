"""The shapes of workloads 1-3 on Dask distributed; run as a child of bench/run.py:

    python3 bench/peers_dask.py WORKLOAD [--reps N] [--scale N]

LocalCluster(n_workers=2, threads_per_worker=1, processes=True), no dashboard, with
``distributed.scheduler.worker-saturation: inf`` (Dask 2022.12 otherwise sends only ~2 tasks at
a time to a single-threaded worker; see /work/shared/notes/peers.md). Each plan is one Dask
graph handed to ``Client.get`` at once, like a treadle plan; the tasks are builtins
(``bytes(1)`` for a const, ``operator.add`` for a merge, ``list`` for array_make), so no
function is pickled by value. Each repetition starts a fresh cluster (not timed).
"""

import logging
import operator
import time

import measure

import dask

dask.config.set({"distributed.scheduler.worker-saturation": float("inf")})

from distributed import Client, LocalCluster  # noqa: E402


def _cluster():
    return LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                        silence_logs=logging.ERROR)


def _timed_get(dsk, key, n, unit_key):
    with _cluster() as cluster, Client(cluster) as client:
        t0 = time.perf_counter()
        result = client.get(dsk, key)
        total = time.perf_counter() - t0
    return result, {"tasks": n, "total_s": total, unit_key: total / n * 1e6, "tasks_per_s": n / total}


def const10k(n=10_000):
    t0 = time.perf_counter()
    dsk = {("c", i): (bytes, 1) for i in range(n)}
    dsk["root"] = (list, [("c", i) for i in range(n)])
    build = time.perf_counter() - t0
    result, out = _timed_get(dsk, "root", n, "us_per_task")
    assert len(result) == n
    out["build_s"] = build
    return out


def chain10k(n=1_000):
    dsk = {"c": (bytes, 1), ("x", 0): (bytes, 1)}
    for i in range(1, n + 1):
        dsk[("x", i)] = (operator.add, ("x", i - 1), "c")
    result, out = _timed_get(dsk, ("x", n), n, "us_per_step")
    assert len(result) == n + 1
    return out


def tree10k(leaves=5_000):
    dsk = {}
    level = []
    for i in range(leaves):
        dsk[("l", i)] = (bytes, 1)
        level.append(("l", i))
    count, depth = leaves, 0
    while len(level) > 1:
        depth += 1
        nxt = []
        for j, i in enumerate(range(0, len(level) - 1, 2)):
            key = ("m", depth, j)
            dsk[key] = (operator.add, level[i], level[i + 1])
            nxt.append(key)
        if len(level) % 2:
            nxt.append(level[-1])
        count += len(level) // 2
        level = nxt
    result, out = _timed_get(dsk, level[0], count, "us_per_task")
    assert len(result) == leaves
    return out


WORKLOADS = {"const10k": const10k, "chain10k": chain10k, "tree10k": tree10k}

if __name__ == "__main__":
    measure.child_main(WORKLOADS)
