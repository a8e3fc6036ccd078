"""A fresh cluster's first map against the maps after it (issue 15).

40 Python tasks of 20 ms on 2 single-cpu workers, as a notebook user's first `map` on a cluster
just started: the first map on each fresh cluster, then `--later` more maps on the same cluster.
Prints per repetition the first map's time, the median of the later ones, their ratio and how
many tasks each worker ran in the first map; then the medians over the repetitions.

    /usr/bin/python3 bench/first_map.py [--reps 5] [--later 3] [--tasks 40] [--ms 20]
"""

import argparse
import collections
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "prefix", "lib", "treadle", "python"))

import treadle  # noqa: E402


def work(seconds):
    import os
    import time
    time.sleep(seconds)
    return os.getppid()


def one_map(client, tasks, seconds):
    start = time.perf_counter()
    pids = client.gather(client.map(work, [seconds] * tasks))
    return time.perf_counter() - start, collections.Counter(pids)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--later", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--ms", type=float, default=20.0)
    parser.add_argument("--output", help="write the figures as JSON there")
    args = parser.parse_args()
    rows = []
    for rep in range(args.reps):
        with treadle.local_cluster(workers=2, cpus=1, quiet=True) as cluster:
            cluster.wait_for_workers(2)
            with treadle.Client(cluster, output=None) as client:
                first, per_worker = one_map(client, args.tasks, args.ms / 1000)
                later = [one_map(client, args.tasks, args.ms / 1000)[0] for _ in range(args.later)]
        row = {"first_s": first, "later_s": statistics.median(later), "first_per_worker": sorted(per_worker.values()),
               "load": os.getloadavg()[0]}
        row["ratio"] = row["first_s"] / row["later_s"]
        rows.append(row)
        print("rep {}: first {:.3f} s, later {:.3f} s, ratio {:.2f}, tasks per worker {}, load {:.1f}".format(
            rep, row["first_s"], row["later_s"], row["ratio"], row["first_per_worker"], row["load"]), flush=True)
    summary = {k: statistics.median(r[k] for r in rows) for k in ("first_s", "later_s", "ratio")}
    print("median: first {first_s:.3f} s, later {later_s:.3f} s, ratio {ratio:.2f}".format(**summary))
    if args.output:
        with open(args.output, "w") as f:
            json.dump({"rows": rows, "median": summary, "args": vars(args)}, f, indent=1)


if __name__ == "__main__":
    main()
