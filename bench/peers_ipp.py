"""The shapes of workloads 1-3 on ipyparallel; run as a child of bench/run.py:

    python3 bench/peers_ipp.py WORKLOAD [--reps N] [--scale N]

``ipp.Cluster(n=2)`` (a controller and 2 engines, local launchers) and a load-balanced view;
one ``apply_async`` per task, with builtins as the functions. ipyparallel has no data flow
between tasks: dependencies are ``after=`` flags (a task starts once the tasks it names have
finished), so the chain and tree move no data between tasks; this is the most favourable way
to give ipyparallel these shapes. Each repetition starts a fresh cluster (not timed), in a
throw-away profile directory.
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


WORKLOADS = {"const10k": const10k, "chain10k": chain10k, "tree10k": tree10k}

if __name__ == "__main__":
    measure.child_main(WORKLOADS)
