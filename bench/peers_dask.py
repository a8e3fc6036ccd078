"""Workloads 1-3 and 6-8 on Dask distributed; run as a child of bench/run.py:

    python3 bench/peers_dask.py WORKLOAD [--reps N] [--scale N]

LocalCluster(n_workers=2, threads_per_worker=1, processes=True), no dashboard, with
``distributed.scheduler.worker-saturation: inf`` (Dask 2022.12 otherwise sends only ~2 tasks at
a time to a single-threaded worker; see /work/shared/notes/peers.md). Each plan is one Dask
graph handed to ``Client.get`` at once, like a treadle plan; the tasks are builtins
(``bytes(1)`` for a const, ``operator.add`` for a merge, ``list`` for array_make), so no
function is pickled by value. Workloads 6-8 (Python functions) use the futures API:
client.submit / client.map and client.gather. Each repetition starts a fresh cluster (not timed).
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


# ---------------------------------------------------------------------------------------------
# 6-8. Python functions, with the futures API (client.submit / client.map / client.gather).
# The functions are defined here, in __main__, so Dask pickles them by value (cloudpickle), as
# it does with functions defined in a notebook. A warm-up (not timed) runs another function.

def square(x):
    return x * x


def nap(i):
    import time as _time
    _time.sleep(0.010)
    return i


def inc(x):
    return x + 1


def _warm(i):
    import time as _time
    _time.sleep(0.05)
    return i


def _timed(body, n, unit_key):
    """Starts a cluster, warms it, times body(client) -> (client_s, value); returns metrics."""
    with _cluster() as cluster, Client(cluster) as client:
        client.gather(client.map(_warm, range(4), pure=False))
        t0 = time.perf_counter()
        client_s, value = body(client)
        total = time.perf_counter() - t0
    return value, {"tasks": n, "total_s": total, unit_key: total / n * 1e6, "tasks_per_s": n / total,
                   "client_s": client_s}


def py10k(n=10_000):
    """[client.submit(square, i) for i in range(n)], then client.gather."""
    def body(client):
        t0 = time.perf_counter()
        futures = [client.submit(square, i) for i in range(n)]
        t1 = time.perf_counter()
        return t1 - t0, client.gather(futures)
    values, out = _timed(body, n, "us_per_task")
    assert values == [i * i for i in range(n)], values[:4]
    return out


def py10k_map(n=10_000):
    """client.gather(client.map(square, range(n)))."""
    def body(client):
        t0 = time.perf_counter()
        futures = client.map(square, range(n))
        t1 = time.perf_counter()
        return t1 - t0, client.gather(futures)
    values, out = _timed(body, n, "us_per_task")
    assert values == [i * i for i in range(n)], values[:4]
    return out


def sleep1k(n=1_000):
    """n x time.sleep(0.010) with client.submit, then client.gather; ideal n * 10 ms / 2."""
    def body(client):
        t0 = time.perf_counter()
        futures = [client.submit(nap, i) for i in range(n)]
        t1 = time.perf_counter()
        return t1 - t0, client.gather(futures)
    values, out = _timed(body, n, "us_per_task")
    assert values == list(range(n)), values[:4]
    out["ideal_s"] = n * 0.010 / 2
    out["efficiency_pct"] = 100 * out["ideal_s"] / out["total_s"]
    return out


def pychain1k(n=1_000):
    """x = client.submit(inc, x) n times (each takes the previous future), then x.result()."""
    def body(client):
        t0 = time.perf_counter()
        x = client.submit(inc, 0)
        for _ in range(n - 1):
            x = client.submit(inc, x)
        t1 = time.perf_counter()
        return t1 - t0, x.result()
    value, out = _timed(body, n, "us_per_step")
    assert value == n, value
    return out


WORKLOADS = {"const10k": const10k, "chain10k": chain10k, "tree10k": tree10k,
             "py10k": py10k, "py10k_map": py10k_map, "sleep1k": sleep1k, "pychain1k": pychain1k}

if __name__ == "__main__":
    measure.child_main(WORKLOADS)
