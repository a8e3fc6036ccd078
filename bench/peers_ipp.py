"""Workloads 1-3 and 6-8 on ipyparallel; run as a child of bench/run.py:

    python3 bench/peers_ipp.py WORKLOAD [--reps N] [--scale N]

``ipp.Cluster(n=2)`` (a controller and 2 engines, local launchers) and a load-balanced view;
one ``apply_async`` per task, with builtins as the functions. ipyparallel has no data flow
between tasks: dependencies are ``after=`` flags (a task starts once the tasks it names have
finished), so the chain and tree move no data between tasks; this is the most favourable way
to give ipyparallel these shapes. Workloads 6-8 run Python functions defined here: 6b and 7
with apply_async, 6c with the view's map, and the chain (8) sends each step's value back
through the client, the only way data goes from one task to the next. Each repetition starts a
fresh cluster (not timed), in a throw-away profile directory.
"""

import logging
import shutil
import tempfile
import time

import measure

import ipyparallel as ipp


class _Cluster:
    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="treadle-bench-ipp-")
        self.cluster = ipp.Cluster(n=2, profile_dir=self.dir, log_level=logging.ERROR, shutdown_atexit=True)
        try:
            self.rc = self.cluster.start_and_connect_sync()
            self.rc.wait_for_engines(2, timeout=60)
        except BaseException:
            self.__exit__()
            raise
        return self.rc.load_balanced_view()

    def __exit__(self, *exc):
        try:
            if getattr(self, "rc", None) is not None:
                self.rc.close()
            self.cluster.stop_cluster_sync()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def const10k(n=2_000):
    with _Cluster() as view:
        t0 = time.perf_counter()
        ars = [view.apply_async(bytes, 1) for _ in range(n)]
        result = [ar.get() for ar in ars]
        total = time.perf_counter() - t0
    assert len(result) == n
    return {"tasks": n, "total_s": total, "us_per_task": total / n * 1e6, "tasks_per_s": n / total}


def chain10k(n=1_000):
    with _Cluster() as view:
        t0 = time.perf_counter()
        ar = view.apply_async(bytes, 1)
        for _ in range(n):
            with view.temp_flags(after=[ar]):
                ar = view.apply_async(bytes, 1)
        ar.get()
        total = time.perf_counter() - t0
    return {"tasks": n, "total_s": total, "us_per_step": total / n * 1e6, "tasks_per_s": n / total}


def tree10k(leaves=1_000):
    with _Cluster() as view:
        t0 = time.perf_counter()
        level = [view.apply_async(bytes, 1) for _ in range(leaves)]
        count = leaves
        while len(level) > 1:
            nxt = []
            for i in range(0, len(level) - 1, 2):
                with view.temp_flags(after=[level[i], level[i + 1]]):
                    nxt.append(view.apply_async(bytes, 1))
            if len(level) % 2:
                nxt.append(level[-1])
            count += len(level) // 2
            level = nxt
        level[0].get()
        total = time.perf_counter() - t0
    return {"tasks": count, "total_s": total, "us_per_task": total / count * 1e6, "tasks_per_s": count / total}


# ---------------------------------------------------------------------------------------------
# 6-8. Python functions. ipyparallel ships a function's code, not its module's globals, so
# they import what they use themselves. A warm-up (not timed) runs another function on both
# engines first.

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
    with _Cluster() as view:
        view.map_sync(_warm, range(4))
        t0 = time.perf_counter()
        client_s, value = body(view)
        total = time.perf_counter() - t0
    return value, {"tasks": n, "total_s": total, unit_key: total / n * 1e6, "tasks_per_s": n / total,
                   "client_s": client_s}


def py10k(n=2_000):
    """One view.apply_async(square, i) per task, then every result."""
    def body(view):
        t0 = time.perf_counter()
        ars = [view.apply_async(square, i) for i in range(n)]
        t1 = time.perf_counter()
        return t1 - t0, [ar.get() for ar in ars]
    values, out = _timed(body, n, "us_per_task")
    assert values == [i * i for i in range(n)], values[:4]
    return out


def py10k_map(n=2_000):
    """view.map_async(square, range(n)).get() (chunksize 1, the default)."""
    def body(view):
        t0 = time.perf_counter()
        ar = view.map_async(square, range(n))
        t1 = time.perf_counter()
        return t1 - t0, ar.get()
    values, out = _timed(body, n, "us_per_task")
    assert list(values) == [i * i for i in range(n)], values[:4]
    return out


def sleep1k(n=1_000):
    """n x view.apply_async(nap, i), then every result; ideal n * 10 ms / 2."""
    def body(view):
        t0 = time.perf_counter()
        ars = [view.apply_async(nap, i) for i in range(n)]
        t1 = time.perf_counter()
        return t1 - t0, [ar.get() for ar in ars]
    values, out = _timed(body, n, "us_per_task")
    assert values == list(range(n)), values[:4]
    out["ideal_s"] = n * 0.010 / 2
    out["efficiency_pct"] = 100 * out["ideal_s"] / out["total_s"]
    return out


def pychain1k(n=1_000):
    """x = view.apply_async(inc, x).get() n times: ipyparallel has no data flow between tasks,
    so each step's value comes back to the client and goes out again."""
    def body(view):
        t0 = time.perf_counter()
        x = 0
        for _ in range(n):
            x = view.apply_async(inc, x).get()
        return time.perf_counter() - t0, x
    value, out = _timed(body, n, "us_per_step")
    assert value == n, value
    return out


WORKLOADS = {"const10k": const10k, "chain10k": chain10k, "tree10k": tree10k,
             "py10k": py10k, "py10k_map": py10k_map, "sleep1k": sleep1k, "pychain1k": pychain1k}

if __name__ == "__main__":
    measure.child_main(WORKLOADS)
