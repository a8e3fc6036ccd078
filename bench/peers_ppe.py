"""Workloads 6-8 on concurrent.futures.ProcessPoolExecutor(2): the baseline of peers.md.

    python3 bench/peers_ppe.py WORKLOAD [--reps N] [--scale N]

Two worker processes (Linux's default start method, fork), the functions defined here and
pickled by reference. Each repetition makes a fresh pool and warms it (both processes run a
50 ms task of another function; not timed), like the other systems' cluster start.
"""

import concurrent.futures
import time

import measure


def square(x):
    return x * x


def nap(i):
    time.sleep(0.010)
    return i


def inc(x):
    return x + 1


def _warm(i):
    time.sleep(0.05)
    return i


def _timed(body, n, unit_key):
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        list(pool.map(_warm, range(4)))
        t0 = time.perf_counter()
        client_s, value = body(pool)
        total = time.perf_counter() - t0
    return value, {"tasks": n, "total_s": total, unit_key: total / n * 1e6, "tasks_per_s": n / total,
                   "client_s": client_s}


def py10k(n=10_000):
    """[pool.submit(square, i) for i in range(n)], then every result."""
    def body(pool):
        t0 = time.perf_counter()
        futures = [pool.submit(square, i) for i in range(n)]
        t1 = time.perf_counter()
        return t1 - t0, [f.result() for f in futures]
    values, out = _timed(body, n, "us_per_task")
    assert values == [i * i for i in range(n)], values[:4]
    return out


def py10k_map(n=10_000):
    """list(pool.map(square, range(n))) (chunksize 1, the default)."""
    def body(pool):
        t0 = time.perf_counter()
        it = pool.map(square, range(n))
        t1 = time.perf_counter()
        return t1 - t0, list(it)
    values, out = _timed(body, n, "us_per_task")
    assert values == [i * i for i in range(n)], values[:4]
    return out


def sleep1k(n=1_000):
    """n x pool.submit(nap, i), then every result; ideal n * 10 ms / 2."""
    def body(pool):
        t0 = time.perf_counter()
        futures = [pool.submit(nap, i) for i in range(n)]
        t1 = time.perf_counter()
        return t1 - t0, [f.result() for f in futures]
    values, out = _timed(body, n, "us_per_task")
    assert values == list(range(n)), values[:4]
    out["ideal_s"] = n * 0.010 / 2
    out["efficiency_pct"] = 100 * out["ideal_s"] / out["total_s"]
    return out


def pychain1k(n=1_000):
    """x = pool.submit(inc, x).result() n times: a pool has no futures as arguments, so each
    step's value comes back to the caller and goes out again."""
    def body(pool):
        t0 = time.perf_counter()
        x = 0
        for _ in range(n):
            x = pool.submit(inc, x).result()
        return time.perf_counter() - t0, x
    value, out = _timed(body, n, "us_per_step")
    assert value == n, value
    return out


WORKLOADS = {"py10k": py10k, "py10k_map": py10k_map, "sleep1k": sleep1k, "pychain1k": pychain1k}

if __name__ == "__main__":
    measure.child_main(WORKLOADS)
