"""How fast the widgets render large runs (bench/README.md, "The widgets"): the task graph of
100,000 tasks (drawn by label group) and its live recolouring, the largest graph still drawn
task by task, and the trace of 100,000 tasks. Median of N renders each, in this process.

    /usr/bin/python3 bench/widgets_bench.py [--reps N] [--result-line]

``bench/run.py`` runs it with ``--only widgets``.
"""

import argparse
import json
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "prefix", "lib", "treadle", "python"))
sys.path.insert(0, os.path.dirname(HERE))

from treadle.widgets import gantt, graph  # noqa: E402
from treadle.widgets.graph import GraphView  # noqa: E402

from bench.widget_shapes import big_graph, chain_graph, trace_events  # noqa: E402

# figure -> (target in seconds, what it is)
TARGETS = {
    "graph_100k_first": (3.0, "graph of 100k tasks: first render (layout + SVG)"),
    "graph_100k_recolour": (1.5, "graph of 100k tasks: live recolouring"),
    "graph_task_by_task": (4.0, "largest graph drawn task by task ({} tasks)".format(graph.AGGREGATE_ABOVE - 1)),
    "trace_100k": (3.0, "trace of 100k tasks and 20k transfers"),
}


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def one_round():
    out = {}
    g = big_graph()
    v = GraphView(g)
    v.states = ["finished"] * len(g)
    out["graph_100k_first"] = timed(v.bundle)
    v.states = ["running"] * len(g)
    out["graph_100k_recolour"] = timed(v.bundle)
    small = chain_graph(graph.AGGREGATE_ABOVE - 1)
    w = GraphView(small)
    w.states = ["finished"] * len(small)
    out["graph_task_by_task"] = timed(w.bundle)
    tr = trace_events(100_000, workers=8, lanes=4, groups=("map", "map", "reduce"), transfers=20_000)
    out["trace_100k"] = timed(lambda: gantt.TraceView(tr).bundle())
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--result-line", action="store_true", help="also print 'RESULT {json}' (for bench/run.py)")
    args = ap.parse_args(argv)
    rounds = [one_round() for _ in range(args.reps)]
    rows = []
    print("{:<55} {:>9} {:>8}".format("widgets (median of {})".format(args.reps), "seconds", "target"))
    for key, (target, what) in TARGETS.items():
        median = statistics.median(r[key] for r in rounds)
        rows.append({"figure": key, "what": what, "seconds": round(median, 3), "target": target,
                     "ok": median <= target})
        print("{:<55} {:>9.2f} {:>6.1f} {}".format(what, median, target, "ok" if median <= target else "MISSED"))
    result = {"rows": rows, "loadavg": os.getloadavg()}
    if args.result_line:
        print("RESULT " + json.dumps(result))
    return result


if __name__ == "__main__":
    main()
