"""Time from ``treadle-cluster start --slurm 2`` to the first task run, on a private one-node
SLURM cluster (the tests' fixture: tests/batch/slurm_cluster.py), median of N runs.

    /usr/bin/python3 bench/cluster_start.py [--reps 5]

Timed: the command (server start, sbatch of a 2-task job array), then a client submitting one
task and waiting for its result, which needs SLURM to start a job and its worker to join.
The cluster's start-up (munge, slurmctld, slurmd: ~0.5 s) is not timed.
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=5)
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
            runs = [one_run(env) for _ in range(args.reps)]
        finally:
            cluster.stop()
    print("treadle-cluster start --slurm 2, one-node SLURM, {} runs (median, min-max):".format(len(runs)))
    for i, what in enumerate(["command returned", "first task result"]):
        values = [r[i] for r in runs]
        print("  {:<18} {:.2f} s ({:.2f}-{:.2f})".format(what, statistics.median(values), min(values), max(values)))


if __name__ == "__main__":
    main()
