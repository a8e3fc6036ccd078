"""The chain of waits behind a simulated run's makespan, from `treadle-sim --trace FILE`.

    /usr/bin/python3 bench/sim_chain.py TRACE.csv [--top N]

Walks back from the task that ended last: each task started when its last input was there and
a cpu of its worker was free; the step goes to the input that ended last. Per task on the chain
it prints the wait for the assignment (ready to arrived: server round trip, placement), for the
inputs (transfers) and for a cpu (queued behind the worker's other tasks), so a slower run
shows where its time went. Compare two runs (stealing on and off) side by side.
"""

import argparse
import csv


def load(path):
    tasks = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            t = int(row["task"])
            tasks[t] = {
                "label": row["label"], "worker": int(row["worker"]),
                "arrived": float(row["arrived_us"]), "runnable": float(row["runnable_us"]),
                "start": float(row["start_us"]), "end": float(row["end_us"]),
                "given_back": int(row["given_back"]),
                "inputs": [int(x) for x in row["inputs"].split()] if row["inputs"] else [],
            }
    return tasks


def chain(tasks):
    last = max(tasks, key=lambda t: tasks[t]["end"])
    out = []
    t = last
    while t is not None:
        out.append(t)
        ins = tasks[t]["inputs"]
        t = max(ins, key=lambda i: tasks[i]["end"]) if ins else None
    return out[::-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("--top", type=int, default=0, help="also the N longest tasks and when they started")
    a = ap.parse_args()
    tasks = load(a.trace)
    print("{:>9} {:<8} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>4}".format(
        "task", "label", "worker", "ready ms", "assign", "inputs", "cpu wait", "run ms", "moved"))
    totals = {"assign": 0.0, "inputs": 0.0, "cpu": 0.0, "run": 0.0}
    for t in chain(tasks):
        r = tasks[t]
        ready = max((tasks[i]["end"] for i in r["inputs"]), default=0.0)
        waits = {"assign": r["arrived"] - ready, "inputs": r["runnable"] - max(r["arrived"], ready),
                 "cpu": r["start"] - r["runnable"], "run": r["end"] - r["start"]}
        for k in totals:
            totals[k] += waits[k]
        print("{:>9} {:<8} {:>6} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>9.2f} {:>4}".format(
            t, r["label"], r["worker"], ready / 1000, waits["assign"] / 1000, waits["inputs"] / 1000,
            waits["cpu"] / 1000, waits["run"] / 1000, r["given_back"] or ""))
    print("totals (ms): " + ", ".join("{} {:.1f}".format(k, v / 1000) for k, v in totals.items()))
    if a.top:
        print("longest tasks:")
        for t in sorted(tasks, key=lambda t: tasks[t]["start"] - tasks[t]["end"])[:a.top]:
            r = tasks[t]
            print("  {:>9} {:<8} run {:8.2f} ms, ready->start {:7.2f} ms, started {:8.2f} ms on {}".format(
                t, r["label"], (r["end"] - r["start"]) / 1000,
                (r["start"] - max((tasks[i]["end"] for i in r["inputs"]), default=0.0)) / 1000,
                r["start"] / 1000, r["worker"]))


if __name__ == "__main__":
    main()
