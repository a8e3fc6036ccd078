"""The scheduler simulator's sweeps (bench/README.md, "The scheduler simulator").

    /usr/bin/python3 bench/sim_bench.py [--quick] [--output build/bench/sim.json] [--plots] [--sim PATH]
    /usr/bin/python3 bench/sim_bench.py --plot-only build/bench/sim.json

Runs build/bench/sim/treadle-sim (niced: the machine is shared) over:
  * scheduler time per task against workers (10 .. 10,000) on the wide and tree workloads;
  * against tasks (1M .. 10M, 1,000 workers) on the wide workload;
  * makespan against the lower bounds and the list-scheduling baseline, every workload;
  * the effect of losing workers mid-run.
Prints tables, writes the results as JSON and, with --plots, the PNGs in bench/.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SIM = os.path.join(ROOT, "build", "bench", "sim", "treadle-sim")
WORKLOADS = ["wide", "tree", "chains", "layers", "stencil", "wavefront", "scoop"]
TARGET_NS = 1000  # scheduler time per task, issue 15


def sweeps(quick):
    m = 1_000_000
    if quick:
        return {
            "workers": [("wide", 100_000, w) for w in (10, 100, 1000, 10000)] +
                       [("tree", 100_000, w) for w in (10, 100, 1000, 10000)],
            "tasks": [("wide", n, 1000) for n in (100_000, 300_000, 1_000_000)],
            "makespan": [(k, 100_000, 100) for k in WORKLOADS],
            "loss": [("tree", 100_000, 100)],
        }
    return {
        "workers": [("wide", m, w) for w in (10, 100, 1000, 10000)] + [("tree", m, w) for w in (10, 100, 1000, 10000)],
        "tasks": [("wide", n, 1000) for n in (m, 3 * m, 10 * m)],
        "makespan": [(k, m, 1000) for k in WORKLOADS],
        "loss": [("tree", m, 1000)],
    }


def run_sim(workload, tasks, workers, extra=()):
    """One treadle-sim run; its RESULT as a dict (with "error" when it failed)."""
    cmd = ["nice", "-n", "10", SIM, "--workload", workload, "--tasks", str(tasks), "--workers", str(workers)]
    cmd += list(extra)
    label = "{:<10} {:>10,} tasks {:>6,} workers {}".format(workload, tasks, workers, " ".join(extra))
    print("  " + label + " ...", end="", flush=True)
    start = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True)
    line = next((l for l in p.stdout.splitlines() if l.startswith("RESULT ")), None)
    if p.returncode != 0 or line is None:
        print(" FAILED: " + (p.stderr.strip().splitlines() or ["?"])[-1], flush=True)
        return {"workload": workload, "tasks": tasks, "workers": workers, "error": p.stderr.strip()}
    r = json.loads(line[len("RESULT "):])
    print(" {:.0f} ns/task (of which the clock {:.0f}), makespan {:.3f} x bound{}, {:.0f} s".format(
        r["scheduler_ns_per_task"], r.get("timer_ns_per_task", 0), r["makespan_over_bound"],
        ", {:.3f} x baseline".format(r["makespan_over_baseline"]) if "makespan_over_baseline" in r else "",
        time.time() - start), flush=True)
    return r


def run_all(quick):
    s = sweeps(quick)
    out = {"quick": quick, "date": time.strftime("%Y-%m-%d %H:%M:%S"), "loadavg": os.getloadavg()}
    print("scheduler time per task against workers:")
    out["workers"] = [run_sim(k, n, w, ["--no-baseline"]) for k, n, w in s["workers"]]
    print("against tasks:")
    out["tasks"] = [run_sim(k, n, w, ["--no-baseline"]) for k, n, w in s["tasks"]]
    print("makespan against the bounds and the baseline:")
    out["makespan"] = [run_sim(k, n, w) for k, n, w in s["makespan"]]
    # 100 ms tasks, so the run is long against the 3 s a lost worker takes to be noticed.
    print("lost workers (1% of them, at a third of the run; noticed after 3 s; 100 ms tasks):")
    out["loss"] = []
    for k, n, w in s["loss"]:
        whole = run_sim(k, n, w, ["--no-baseline", "--mean-ms", "100"])
        at = whole.get("makespan_s", 30) / 3
        lost = run_sim(k, n, w, ["--no-baseline", "--mean-ms", "100", "--lose", "{:.3f}:{}".format(at, max(1, w // 100))])
        out["loss"].append({"whole": whole, "lost": lost, "at_s": at})
    out["loadavg_end"] = os.getloadavg()
    return out


def fmt_row(r):
    if "error" in r:
        return "{:<10} {:>10,} {:>6,}  FAILED".format(r["workload"], r["tasks"], r["workers"])
    return "{:<10} {:>10,} {:>6,} {:>9.0f} {:>9.0f} {:>9.3f} {:>9.3f} {:>9.3f} {:>9} {:>9.2f} {:>8.0f} {:>6.0f}".format(
        r["workload"], r["tasks"], r["workers"], r["scheduler_ns_per_task"], r["submit_ns_per_task"],
        r["critical_path_s"], r["area_s"], r["makespan_s"],
        "{:.3f}".format(r["baseline_makespan_s"]) if "baseline_makespan_s" in r else "-",
        r["bytes_moved"] / 1e9, r["peak_rss_bytes"] / r["tasks"], r["wall_s"])


def print_tables(out):
    head = "{:<10} {:>10} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8} {:>6}".format(
        "workload", "tasks", "wrk", "ns/task", "submit", "crit s", "work/cpu", "makespan", "baseline", "GB moved",
        "RSS B/t", "wall")
    for key in ("workers", "tasks", "makespan"):
        print("\n" + key + ":\n" + head)
        for r in out.get(key, []):
            print(fmt_row(r))
    for l in out.get("loss", []):
        whole, lost = l["whole"], l["lost"]
        if whole and "error" not in lost and "error" not in whole:
            print("\nlost {} of {} workers at {:.2f} s: makespan {:.3f} s -> {:.3f} s (+{:.1f}%), {} runs for {:,} "
                  "tasks, remove_worker took {:.1f} ms".format(
                      lost["losses"], lost["workers"], l["at_s"], whole["makespan_s"], lost["makespan_s"],
                      100 * (lost["makespan_s"] / whole["makespan_s"] - 1), lost["runs"], lost["tasks"],
                      1e3 * lost["recovery_s"]))


def plot(out, directory):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.4), dpi=80)
    for kind, marker in (("wide", "o"), ("tree", "s")):
        rows = [r for r in out["workers"] if r.get("workload") == kind and "error" not in r]
        if rows:
            a.plot([r["workers"] for r in rows], [r["scheduler_ns_per_task"] for r in rows], marker=marker,
                   label="{} ({:,} tasks)".format(kind, rows[0]["tasks"]))
    a.axhline(TARGET_NS, color="grey", linestyle="--", label="target 1 us")
    a.set_xscale("log")
    a.set_xlabel("workers (4 cpus each)")
    a.set_ylabel("scheduler CPU time per task (ns)")
    a.set_ylim(bottom=0)
    a.legend(fontsize=8)
    rows = [r for r in out["tasks"] if "error" not in r]
    if rows:
        b.plot([r["tasks"] for r in rows], [r["scheduler_ns_per_task"] for r in rows], marker="o",
               label="decisions and reports")
        b.plot([r["tasks"] for r in rows], [r["submit_ns_per_task"] for r in rows], marker="^", label="submit")
        b.set_xlabel("tasks (wide, {:,} workers)".format(rows[0]["workers"]))
    b.axhline(TARGET_NS, color="grey", linestyle="--", label="target 1 us")
    b.set_xscale("log")
    b.set_ylim(bottom=0)
    b.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(directory, "sim_decision_time.png"))
    plt.close(fig)

    rows = [r for r in out["makespan"] if "error" not in r]
    fig, ax = plt.subplots(figsize=(9, 3.4), dpi=80)
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [r["makespan_over_bound"] for r in rows], width=0.4, label="treadle's scheduler")
    ax.bar([x + 0.2 for x in xs], [r.get("baseline_makespan_s", 0) / r["bound_s"] for r in rows], width=0.4,
           label="list-scheduling baseline")
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axhline(1.05, color="grey", linestyle="--", label="bound + 5%")
    ax.set_xticks(list(xs))
    ax.set_xticklabels(["{}\n{}".format(r["workload"], "path" if r["critical_path_s"] > r["area_s"] else "work")
                        for r in rows])
    ax.set_ylabel("makespan / larger lower bound")
    ax.set_ylim(0.9, max([1.2] + [r["makespan_over_bound"] + 0.05 for r in rows]))
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title("{:,} tasks on {:,} workers x 4 cpus (bound: critical path or work / cpus)".format(
        rows[0]["tasks"] if rows else 0, rows[0]["workers"] if rows else 0), fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(directory, "sim_makespan.png"))
    plt.close(fig)
    print("wrote " + ", ".join(os.path.join(os.path.relpath(directory), f)
                               for f in ("sim_decision_time.png", "sim_makespan.png")))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="100k tasks at most (about a minute)")
    ap.add_argument("--output", default=os.path.join(ROOT, "build", "bench", "sim.json"))
    ap.add_argument("--plots", action="store_true", help="also write bench/sim_*.png")
    ap.add_argument("--plot-only", metavar="JSON", help="plot a saved result, run nothing")
    ap.add_argument("--sim", metavar="PATH", help="another treadle-sim binary (a copy of an older build, say)")
    args = ap.parse_args()
    if args.sim:
        global SIM
        SIM = os.path.abspath(args.sim)
    if args.plot_only:
        with open(args.plot_only) as f:
            out = json.load(f)
        print_tables(out)
        plot(out, HERE)
        return
    if not os.path.exists(SIM):
        sys.exit("no {} (run ./setup.sh build first)".format(SIM))
    out = run_all(args.quick)
    print_tables(out)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(out, f, indent=1)
    print("\nwrote " + os.path.relpath(args.output, os.getcwd()))
    if args.plots:
        plot(out, HERE)
    failed = [r for key in ("workers", "tasks", "makespan") for r in out[key] if "error" in r or not r.get("complete")]
    if failed:
        sys.exit("failed: " + ", ".join(r["workload"] for r in failed))


if __name__ == "__main__":
    main()
