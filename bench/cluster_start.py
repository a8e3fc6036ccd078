"""Time from ``treadle-cluster start --slurm 2`` to the first task run, on a private one-node
SLURM cluster (the tests' fixture: tests/batch/slurm_cluster.py), median of N runs.

    /usr/bin/python3 bench/cluster_start.py [--reps 5] [--adapt]

Timed: the command (server start, sbatch of a 2-task job array), then a client submitting one
task and waiting for its result, which needs SLURM to start a job and its worker to join.
The cluster's start-up (munge, slurmctld, slurmd: ~0.5 s) is not timed.

``--adapt``: the --adapt loop's reaction instead. ``start --slurm --adapt 1:3`` with its one
worker joined, then a burst of 80 tasks of 0.3 s: the time to the first job the loop submits
(its log's line), to the third worker joining, and, once the burst is done, to the cluster
being back at one worker (the idle time, 10 s, is part of it).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "prefix", "lib", "treadle", "python"))
sys.path.insert(0, ROOT)

import treadle  # noqa: E402
from tests.batch.slurm_cluster import SlurmCluster  # noqa: E402


def one_run(env):
    t0 = time.perf_counter()
    subprocess.run(["treadle-cluster", "start", "--slurm", "2"], check=True, env=env, capture_output=True)
    address = subprocess.run(["treadle-cluster", "address"], check=True, env=env, capture_output=True,
                             text=True).stdout.strip()
    started = time.perf_counter() - t0
    client = treadle.Client(address, secret=open(env["TREADLE_SECRET_FILE"]).read().strip())
    try:
        assert client.submit(abs, -1).result() == 1
        first = time.perf_counter() - t0
    finally:
        client.close()
        subprocess.run(["treadle-cluster", "stop"], check=True, env=env, capture_output=True)
    return started, first


def nap(i):
    import time
    time.sleep(0.3)
    return i


def wait_for(predicate, timeout=120):
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("gave up after {} s".format(timeout))
        time.sleep(0.05)


def adapt_run(env):
    subprocess.run(["treadle-cluster", "start", "--slurm", "--adapt", "1:3"], check=True, env=env, capture_output=True)
    address = subprocess.run(["treadle-cluster", "address"], check=True, env=env, capture_output=True,
                             text=True).stdout.strip()
    client = treadle.Client(address, secret=open(env["TREADLE_SECRET_FILE"]).read().strip(), output=None)
    log = os.path.join(env["XDG_DATA_HOME"], "treadle", "clusters", "default", "adapt.log")
    since = os.path.getsize(log)   # the log of earlier runs stays in the folder

    def logged(word):
        with open(log) as f:
            f.seek(since)
            return word in f.read()
    try:
        wait_for(lambda: len(client.status()["workers"]) == 1)
        t0 = time.perf_counter()
        futures = [client.submit(nap, i) for i in range(80)]
        wait_for(lambda: logged("submitted"))
        submitted = time.perf_counter() - t0
        wait_for(lambda: len(client.status()["workers"]) == 3)
        grown = time.perf_counter() - t0
        client.gather(futures)
        t1 = time.perf_counter()
        wait_for(lambda: logged("retiring") and len(client.status()["workers"]) == 1)
        shrunk = time.perf_counter() - t1
    finally:
        client.close()
        subprocess.run(["treadle-cluster", "stop"], check=True, env=env, capture_output=True)
    return submitted, grown, shrunk


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--adapt", action="store_true", help="time the --adapt loop's reaction to a burst")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="treadle-bench-slurm-") as d:
        cluster = SlurmCluster(os.path.join(d, "slurm"))
        try:
            cluster.start()
            env = cluster.environment()
            env.pop("TREADLE_SECRET", None)
            secret = os.path.join(d, "secret")
            fd = os.open(secret, os.O_WRONLY | os.O_CREAT, 0o600)
            os.write(fd, os.urandom(16).hex().encode() + b"\n")
            os.close(fd)
            env.update(TREADLE_SECRET_FILE=secret, XDG_DATA_HOME=os.path.join(d, "data"),
                       PATH=os.path.join(ROOT, "prefix", "bin") + os.pathsep + env["PATH"])
            runs = []
            for _ in range(args.reps):
                runs.append((adapt_run if args.adapt else one_run)(env))
                print("  run:", " ".join("{:.2f}".format(v) for v in runs[-1]), flush=True)
        finally:
            cluster.stop()
    if args.adapt:
        print("--adapt 1:3 on one-node SLURM, a burst of 80 x 0.3 s tasks, {} runs (median, min-max):".format(len(runs)))
        for i, what in enumerate(["first job submitted", "3 workers joined", "back to 1 after"]):
            values = [r[i] for r in runs]
            print("  {:<20} {:.2f} s ({:.2f}-{:.2f})".format(what, statistics.median(values), min(values), max(values)))
        return
    print("treadle-cluster start --slurm 2, one-node SLURM, {} runs (median, min-max):".format(len(runs)))
    for i, what in enumerate(["command returned", "first task result"]):
        values = [r[i] for r in runs]
        print("  {:<18} {:.2f} s ({:.2f}-{:.2f})".format(what, statistics.median(values), min(values), max(values)))


if __name__ == "__main__":
    main()
