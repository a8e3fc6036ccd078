"""treadle's benchmarks: ``./setup.sh bench [--quick] [--peers] [--only NAME[,NAME...]]``.

Runs each workload (bench/README.md) in a child process under a time limit (the figures a ratio
compares one repetition each in turn: in_turns.py), prints a table
against the targets and HyperLoom's figures (/work/shared/notes/peers.md), with --peers also
against Dask distributed, ipyparallel and (for Python tasks) ProcessPoolExecutor(2) measured here,
then the API layers (api_layers.py: IPython's and SCOOP's against the native API, ipyparallel
beside them with --peers), the kernel benchmarks (kernel_bench.py: the treadle kernel against
ipykernel) and the widgets' rendering (widgets_bench.py), and writes build/bench/results.json
(and kernel.json beside it).
"""

import argparse
import datetime
import json
import os
import platform
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import in_turns  # noqa: E402
import measure  # noqa: E402

PY = "/usr/bin/python3"  # Debian's interpreter: treadle's module and the peers live there

# ---------------------------------------------------------------------------------------------
# What runs, how big, and what it is compared with.
#
# metric: the key of the child's result compared with the target and the peers;
# lower: whether lower is better; hyperloom: HyperLoom's figure from peers.md in the same unit.

# What the three 10k-Python-task workloads (6a-6c) share.
_PY10K = {"group": "python", "metric": "us_per_task", "unit": "us/task", "lower": True, "target": 20,  # issue 15
          "hyperloom": 124.0, "hyperloom_text": "124 us/task (py_task, 1.24 s)", "scale": 10_000, "timeout": 180}
_PY10K_PEERS = {
    "peers": {"dask": {"scale": 10_000, "timeout": 300}, "ipp": {"scale": 2_000, "timeout": 300},
              "ppe": {"scale": 10_000, "timeout": 180}},
    "peer_text": {"dask": "1.6-2 ms/task (0.47 ms with saturation inf)", "ipp": "3.1 ms/task",
                  "ppe": "118 us/task"}}

WORKLOADS = [
    {"name": "const10k", "no": "1", "title": "10k independent const, gathered",
     "metric": "us_per_task", "unit": "us/task", "lower": True, "target": 10,
     "hyperloom": 21.0, "hyperloom_text": "21 us/task (0.21 s)",
     "scale": 10_000, "timeout": 180,
     "peers": {"dask": {"scale": 10_000, "timeout": 300}, "ipp": {"scale": 2_000, "timeout": 300}},
     "peer_text": {"dask": "1.6-2 ms/task (0.47 ms with saturation inf)", "ipp": "3.1 ms/task"}},
    {"name": "chain10k", "no": "2", "title": "chain of 10k merges",
     "metric": "us_per_step", "unit": "us/step", "lower": True, "target": 25,
     "hyperloom": 48.0, "hyperloom_text": "48 us/step (0.49 s)",
     "scale": 10_000, "timeout": 180,
     "peers": {"dask": {"scale": 1_000, "timeout": 300}, "ipp": {"scale": 1_000, "timeout": 300}},
     "peer_text": {"dask": "6.3 ms/step (1k chain)", "ipp": "3.5 ms/step (1k chain)"}},
    {"name": "chain10k_fresh", "no": "2b", "title": "chain of 10k merges, fresh const per step",
     "metric": "us_per_step", "unit": "us/step", "lower": True, "target": 25,
     "hyperloom": None, "hyperloom_text": "-",
     "scale": 10_000, "timeout": 180, "peers": {}},
    {"name": "tree10k", "no": "3", "title": "binary merge tree, ~10k tasks",
     "metric": "us_per_task", "unit": "us/task", "lower": True, "target": None,
     "hyperloom": 18.0, "hyperloom_text": "18-35 us/task (0.18-0.35 s)",
     "scale": 5_000, "timeout": 180,  # leaves: 5,000 leaves + 4,999 merges
     "peers": {"dask": {"scale": 5_000, "timeout": 300}, "ipp": {"scale": 1_000, "timeout": 300}},
     "peer_text": {"dask": "1.3-2.1 ms/task (13-21 s)", "ipp": "6.2 ms/task (62 s)"}},
    {"name": "w32", "no": "3b", "title": "workload 1's plan on 32 vs 2 workers: server CPU per task, 32/2",
     "metric": "server_cpu_ratio", "unit": "x", "lower": True, "target": 1.2,
     "hyperloom": None, "hyperloom_text": "-",
     "scale": 10_000, "timeout": 300, "peers": {}},
    {"name": "plan1m", "no": "4", "title": "1M-task plan (1M const, array_make per 1000)",
     "metric": "server_bytes_per_task", "unit": "B/task", "lower": True, "target": 150,
     "hyperloom": None, "hyperloom_text": "13 MB RSS at 10k tasks (whole process)",
     "scale": 1_000_000, "quick_scale": 100_000, "timeout": 900, "peers": {}},
    {"name": "transfer100mb", "no": "5", "title": "100 MB object worker -> worker, network path",
     "metric": "gb_per_s", "unit": "GB/s", "lower": False, "target": 1.0,
     "hyperloom": None, "hyperloom_text": "-",
     "scale": 100_000_000, "timeout": 240, "peers": {}},
    {"name": "run1k", "no": "5b", "title": "1,000 `run(\"true\")` programs gathered",
     "metric": "ms_per_program", "unit": "ms/program", "lower": True, "target": 1.5,
     "hyperloom": 4.41, "hyperloom_text": "4.41 ms/program (4.41 s)",
     "scale": 1_000, "timeout": 180, "peers": {}},
    {"name": "run1k_two_outputs", "no": "5c", "title": "1,000 `run(\"tee copy\")` with two outputs, merged",
     "metric": "us_per_task", "unit": "us/task", "lower": True, "target": None,
     "hyperloom": None, "hyperloom_text": "-", "scale": 1_000, "timeout": 180, "peers": {}},
    # Python functions as tasks (executors; docs/python-tasks.md). Peers: the same functions,
    # each system's own way (see bench/README.md); ppe = concurrent.futures.ProcessPoolExecutor(2).
    {**_PY10K, "name": "py10k_loom", "no": "6a",
     "title": "10k tiny Python tasks, HyperLoom API (py_task, array_make)",
     "peers": {}, "peers_from": "py10k"},
    {**_PY10K, **_PY10K_PEERS, "name": "py10k", "no": "6b",
     "title": "10k tiny Python tasks, native: [square(i) ...] + gather"},
    {**_PY10K, **_PY10K_PEERS, "name": "py10k_map", "no": "6c",
     "title": "10k tiny Python tasks, native client.map"},
    {"name": "sleep1k", "no": "7", "group": "python",
     "title": "1,000 x 10 ms sleep tasks: parallel efficiency",
     "metric": "efficiency_pct", "unit": "%", "lower": False, "target": 98.5,  # issue 15
     "ratio_metric": "total_s", "ratio_unit": "s",  # treadle/peer compares the total times
     "hyperloom": None, "hyperloom_text": "-",
     "scale": 1_000, "timeout": 180,
     "peers": {"dask": {"scale": 1_000, "timeout": 300}, "ipp": {"scale": 1_000, "timeout": 300},
               "ppe": {"scale": 1_000, "timeout": 180}},
     "peer_text": {"dask": "5.8 s", "ipp": "7.1 s", "ppe": "5.2 s"}},
    {"name": "pychain1k", "no": "8", "group": "python",
     "title": "chain of 1,000 dependent Python tasks",
     "metric": "us_per_step", "unit": "us/step", "lower": True, "target": None,
     "hyperloom": None, "hyperloom_text": "-",
     "scale": 1_000, "timeout": 180,
     "peers": {"dask": {"scale": 1_000, "timeout": 300}, "ipp": {"scale": 1_000, "timeout": 300},
               "ppe": {"scale": 1_000, "timeout": 180}},
     "peer_text": {"dask": "~6 ms/step (merge chain, peers.md)", "ipp": "-", "ppe": "-"}},
    # Rain's API (treadle.rain.client; workloads_rain.py). Compared with the HyperLoom API's
    # figure measured in the same run ("compare_to", run with it): the ratio's target is 1.2.
    {"name": "rain10k", "no": "9a", "group": "rain", "script": "workloads_rain.py",
     "title": "10k tiny @remote tasks, Rain API (one session, a Concat kept and fetched)",
     "metric": "us_per_task", "unit": "us/task", "lower": True, "target": None,
     "compare_to": "py10k_loom", "ratio_target": 1.2,
     "hyperloom": None, "hyperloom_text": "-", "scale": 10_000, "timeout": 180, "peers": {}},
    {"name": "rain_execute1k", "no": "9b", "group": "rain", "script": "workloads_rain.py",
     "title": "1k Execute tasks with two outputs each, Rain API",
     "metric": "us_per_task", "unit": "us/task", "lower": True, "target": None,
     "compare_to": "run1k_two_outputs", "ratio_target": 1.2,
     "hyperloom": None, "hyperloom_text": "-", "scale": 1_000, "timeout": 180, "peers": {}},
]
for _w in WORKLOADS:
    _w.setdefault("group", "graph")
GROUPS = {"graph": "workloads 1-5 (built-in tasks)", "python": "workloads 6-8 (Python functions)",
          "rain": "workloads 9 (Rain's API)", "kernel": "the kernel benchmarks (kernel_bench.py)",
          "layers": "the IPython and SCOOP layers against the native API (api_layers.py)",
          "sim": "the scheduler simulator's sweeps (sim_bench.py)",
          "widgets": "rendering large graphs and traces (widgets_bench.py)"}
LAYERS_BENCH = os.path.join(HERE, "api_layers.py")
LAYERS_TIMEOUT = 1500  # seconds; ~2 minutes, ~10 with ipyparallel (--peers)
KERNEL_BENCH = os.path.join(HERE, "kernel_bench.py")
KERNEL_TIMEOUT = 900  # seconds; it takes ~1-2 minutes
WIDGETS_BENCH = os.path.join(HERE, "widgets_bench.py")
WIDGETS_TIMEOUT = 600  # seconds; it takes ~1 minute
SIM_BENCH = os.path.join(HERE, "sim_bench.py")
SIM_TIMEOUT = 3600  # seconds; the full sweep (10M tasks at most) takes ~10-20 minutes, --quick ~1

SYSTEMS = {
    "treadle": os.path.join(HERE, "workloads_treadle.py"),
    "dask": os.path.join(HERE, "peers_dask.py"),
    "ipp": os.path.join(HERE, "peers_ipp.py"),
    "ppe": os.path.join(HERE, "peers_ppe.py"),
}
PEERS = ("dask", "ipp", "ppe")
PEER_NAMES = {"dask": "Dask", "ipp": "ipyparallel", "ppe": "ProcessPoolExecutor(2)"}


# ---------------------------------------------------------------------------------------------
# Formatting

def fmt(value, unit=""):
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    a = abs(value)
    if a >= 1e9 and unit == "B":
        s = "{:.2f} GB".format(value / 1e9)
    elif a >= 1e6 and unit == "B":
        s = "{:.1f} MB".format(value / 1e6)
    elif a >= 1e3 and unit == "B":
        s = "{:.1f} kB".format(value / 1e3)
    else:
        if a >= 1000:
            s = "{:,.0f}".format(value)
        elif a >= 100:
            s = "{:.0f}".format(value)
        elif a >= 10:
            s = "{:.1f}".format(value)
        elif a >= 1:
            s = "{:.2f}".format(value)
        else:
            s = "{:.3g}".format(value)
        if unit:
            s += " " + unit
    return s


def ratio(treadle, peer):
    if treadle is None or not peer:
        return None
    return treadle / peer


def fmt_ratio(r):
    if r is None:
        return "-"
    if r < 1:
        return "{:.3g} ({:.0f}x faster)".format(r, 1 / r) if r < 0.5 else "{:.2f}".format(r)
    return "{:.2f}".format(r)


def table(headers, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = " | ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "-+-".join("-" * w for w in widths)]
    for r in rows:
        out.append(" | ".join(str(x).ljust(w) for x, w in zip(r, widths)))
    return "\n".join(out)


def verdict(value, target, lower):
    if value is None or target is None:
        return ""
    ok = value <= target if lower else value >= target
    return " ok" if ok else " MISSED"


# ---------------------------------------------------------------------------------------------

def git_state():
    def git(*args):
        try:
            return subprocess.run(["git", "-C", ROOT] + list(args), capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except Exception:
            return ""
    return {"commit": git("rev-parse", "HEAD"), "dirty_files": len(git("status", "--porcelain").splitlines())}


def child_env():
    env = dict(os.environ)
    prefix = os.path.join(ROOT, "prefix")
    pypath = os.path.join(prefix, "lib", "treadle", "python")
    env["PYTHONPATH"] = pypath + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PATH"] = os.path.join(prefix, "bin") + os.pathsep + env.get("PATH", "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run_one(system, w, scale, reps, timeout, env):
    script = os.path.join(HERE, w["script"]) if system == "treadle" and w.get("script") else SYSTEMS[system]
    cmd = [PY, script, w["name"], "--reps", str(reps), "--scale", str(scale)]
    label = "{:<8} {:<15} scale {:>9,} x{}".format(system, w["name"], scale, reps)
    print("  " + label + " ...", end="", flush=True)
    result, error = measure.run_child(cmd, timeout * reps / 3 if reps < 3 else timeout, env=env)
    if error:
        print(" FAILED: " + error.splitlines()[-1] if error else "", flush=True)
        return {"scale": scale, "reps": reps, "error": error}
    if result["median"].get("skipped"):
        print(" " + w.get("skipped_text", "skipped"), flush=True)
        result.update({"scale": scale, "reps": reps})
        return result
    value = result["median"].get(w["metric"])
    extra = ""
    if w["name"] == "plan1m":
        m = result["median"]
        extra = "  (VmHWM {}, estimate {}; build+submit {:.2f} s, total {:.2f} s)".format(
            fmt(m.get("server_hwm_bytes_per_task"), "B/task"), fmt(m.get("server_estimate_bytes_per_task"), "B/task"),
            m["build_submit_s"], m["total_s"])
    elif "total_s" in result["median"]:
        extra = "  (total {:.3f} s)".format(result["median"]["total_s"])
    if w["name"] == "sleep1k" and "ideal_s" in result["median"]:
        extra = "  (total {:.3f} s, ideal {:.2f} s)".format(result["median"]["total_s"], result["median"]["ideal_s"])
    print(" {}{}".format(fmt(value, w["unit"]), extra), flush=True)
    result.update({"scale": scale, "reps": reps})
    return result


def summary_rows(results, peers):
    rows = []
    for w in WORKLOADS:
        r = results.get(w["name"])
        if r is None:
            continue
        t = r.get("treadle", {})
        m = t.get("median", {})
        value = m.get(w["metric"])
        err = t.get("error")
        tval = ("FAILED" if err else fmt(value, w["unit"])) + ("" if err else verdict(value, w["target"], w["lower"]))
        target = "-" if w["target"] is None else ("<= " if w["lower"] else ">= ") + fmt(w["target"], w["unit"])
        row = {"workload": "{} {}".format(w["no"], w["title"]), "treadle": tval, "target": target,
               "hyperloom": w["hyperloom_text"], "ratio_hyperloom": fmt_ratio(ratio(value, w["hyperloom"]))}
        if m.get("skipped"):
            row["treadle"] = w.get("skipped_text", "skipped")
        elif w.get("compare_to"):
            row.update(compared_row(w, value, results))
        if w["name"] == "plan1m" and m:
            tasks = m.get("tasks", 0)
            row["workload"] = "4 {:,}-task plan: server peak RSS growth".format(int(tasks))
        if peers:
            source = results.get(w.get("peers_from"), {}) if w.get("peers_from") else r
            rm = w.get("ratio_metric", w["metric"])
            for p in PEERS:
                pr = source.get(p)
                if not pr:
                    row[p] = "-"
                    row["ratio_" + p] = "-"
                elif pr.get("error"):
                    row[p] = "FAILED ({})".format(pr["error"].splitlines()[0][:40])
                    row["ratio_" + p] = "-"
                else:
                    pv = pr["median"].get(w["metric"])
                    shown = fmt(pv, w["unit"])
                    if rm != w["metric"]:
                        shown += ", " + fmt(pr["median"].get(rm), w.get("ratio_unit", ""))
                    row[p] = "{} (n={:,}{})".format(shown, pr["scale"],
                                                     "; as 6b" if w.get("peers_from") else "")
                    row["ratio_" + p] = fmt_ratio(ratio(m.get(rm) if not err else None, pr["median"].get(rm)))
        rows.append(row)
        if w["name"] == "tree10k" and m:
            rows.append({"workload": "3 ... total", "treadle": fmt(m.get("total_s"), "s"), "target": "-",
                         "hyperloom": "0.18-0.35 s", "ratio_hyperloom": fmt_ratio(ratio(m.get("total_s"), 0.18))})
        if w["name"] == "w32" and m:
            rows.append({"workload": "3b ... throughput 32/2 workers (tasks/s: {} / {}; load {:.1f})".format(
                             fmt(m.get("tasks_per_s_w32")), fmt(m.get("tasks_per_s_w2")), m.get("loadavg", 0)),
                         "treadle": fmt(m.get("throughput_ratio"), "x"), "target": ">= 0.8 x",
                         "hyperloom": "-", "ratio_hyperloom": "-"})
            rows.append({"workload": "3b ... server CPU per task on 2 / 32 workers",
                         "treadle": "{} / {}".format(fmt(m.get("server_cpu_us_per_task_w2"), "us"),
                                                     fmt(m.get("server_cpu_us_per_task_w32"), "us")),
                         "target": "-", "hyperloom": "-", "ratio_hyperloom": "-"})
        if w["name"] == "const10k" and m:
            rows.append({"workload": "1 ... throughput", "treadle": fmt(m.get("tasks_per_s"), "tasks/s"),
                         "target": ">= 100,000 tasks/s", "hyperloom": "~48,000 tasks/s", "ratio_hyperloom": "-"})
        if w["name"] == "plan1m" and m:
            rows.append({"workload": "4 ... server's own estimate (status memory)",
                         "treadle": fmt(m.get("server_estimate_bytes_per_task"), "B/task") +
                         " ({})".format(fmt(m.get("server_estimate_submitted"), "B")),
                         "target": "-", "hyperloom": "-", "ratio_hyperloom": "-"})
            rows.append({"workload": "4 ... client build+submit", "treadle": fmt(m.get("build_submit_s"), "s"),
                         "target": "-", "hyperloom": "-", "ratio_hyperloom": "-"})
            rows.append({"workload": "4 ... total to result", "treadle": fmt(m.get("total_s"), "s") +
                         " ({})".format(fmt(m.get("us_per_task"), "us/task")),
                         "target": "-", "hyperloom": "-", "ratio_hyperloom": "-"})
        if w["name"] == "sleep1k" and m:
            rows.append({"workload": "7 ... total (ideal {:.2f} s)".format(m.get("ideal_s", 5.0)),
                         "treadle": fmt(m.get("total_s"), "s"), "target": "<= {:.2f} s".format(
                             m.get("ideal_s", 5.0) / (w["target"] / 100.0)), "hyperloom": "-", "ratio_hyperloom": "-"})
            rows.append({"workload": "7 ... efficiency vs this machine's sleep ({:.2f} ms per 10 ms sleep)".format(
                             1e3 * m.get("sleep_call_s", 0)),
                         "treadle": fmt(m.get("efficiency_vs_measured_pct"), "%"), "target": "-",
                         "hyperloom": "-", "ratio_hyperloom": "-"})
            rows.append({"workload": "7 ... gap between tasks on an executor (median)",
                         "treadle": fmt(m.get("gap_median_us"), "us") + " (task ran {})".format(
                             fmt(1e-3 * m.get("task_run_mean_us", 0), "ms")),
                         "target": "-", "hyperloom": "-", "ratio_hyperloom": "-"})
        if w.get("compare_to") and m.get("cpu_all_s"):
            other = results.get(w["compare_to"], {}).get("treadle", {}).get("median", {})
            mine, theirs = cpu_per_task(m), cpu_per_task(other)
            rows.append({"workload": "{} ... CPU per task, every process (less noisy on a busy machine)".format(w["no"]),
                         "treadle": fmt(mine, "us/task"), "target": "-",
                         "hyperloom": "{} measured: {}".format(
                             next(x["no"] for x in WORKLOADS if x["name"] == w["compare_to"]), fmt(theirs, "us/task")),
                         "ratio_hyperloom": fmt_ratio(ratio(mine, theirs))})
        if w["name"] == "pychain1k" and m:
            rows.append({"workload": "8 ... hand-off, one step's end to the next's start (median)",
                         "treadle": fmt(m.get("handoff_median_us"), "us") + " ({:.0f} switches of executor)".format(
                             m.get("executor_switches", 0)),
                         "target": "-", "hyperloom": "-", "ratio_hyperloom": "-"})
        if w["name"] == "run1k" and m.get("spawn_floor_ms"):
            rows.append({"workload": "5b ... floor: posix_spawn + wait of `true`, 2 loops, no engine",
                         "treadle": fmt(m["spawn_floor_ms"], "ms/program"),
                         "target": "-", "hyperloom": "-",
                         "ratio_hyperloom": "treadle/floor " + fmt_ratio(ratio(m.get("ms_per_program"), m["spawn_floor_ms"]))})
        if w["name"] == "transfer100mb" and m:
            rows.append({"workload": "5 ... same host (handoff: the file is linked, no bytes move)",
                         "treadle": "{} whole consumer ({} local)".format(
                             fmt(m.get("same_host_consumer_remote_s"), "s"), fmt(m.get("same_host_consumer_local_s"), "s")),
                         "target": "<= 30 ms", "hyperloom": "-", "ratio_hyperloom": "-"})
            rows.append({"workload": "5 ... network path: consumer worker's CPU",
                         "treadle": fmt(m.get("cpu_worker1_s"), "s"), "target": "-", "hyperloom": "-",
                         "ratio_hyperloom": "-"})
            if m.get("prefault_transfer_s") is not None:
                rows.append({"workload": "5 ... first transfer, pool prefaulted (--receive-pool-prefault 128M), its CPU",
                             "treadle": "{}, CPU {}".format(fmt(m["prefault_transfer_s"], "s"),
                                                            fmt(m.get("prefault_cpu_worker1_s"), "s")),
                             "target": "<= 0.1 s", "hyperloom": "-", "ratio_hyperloom": "-"})
            if m.get("later_median_s") is not None:
                rows.append({"workload": "5 ... later transfers into the same worker (median), its CPU",
                             "treadle": "{} ({}; whole consumer {}), CPU {}".format(
                                 fmt(m.get("later_gb_per_s"), "GB/s"), fmt(m["later_median_s"], "s"),
                                 fmt(m.get("later_gb_per_s_no_baseline"), "GB/s"),
                                 fmt(m.get("later_median_cpu_worker1_s"), "s")),
                             "target": ">= 1.00 GB/s", "hyperloom": "-", "ratio_hyperloom": "-"})
            rows.append({"workload": "5 ... loopback floors (1 message, no engine)",
                         "treadle": "TCP {}, ZeroMQ {}".format(fmt(m.get("tcp_floor_gb_per_s"), "GB/s"),
                                                               fmt(m.get("zmq_floor_gb_per_s"), "GB/s")),
                         "target": "-", "hyperloom": "-", "ratio_hyperloom": "-"})
            rows.append({"workload": "5 ... first touch of 100 MB fresh memory: 4 KiB / 2 MiB pages",
                         "treadle": "{} / {}".format(fmt(m.get("first_touch_s"), "s"), fmt(m.get("first_touch_huge_s"), "s")),
                         "target": "-", "hyperloom": "-", "ratio_hyperloom": "-"})
    return rows


def compared_row(w, value, results):
    """The HyperLoom columns of a workload compared with another measured in the same run: its
    figure, and the ratio against ``ratio_target``."""
    other = next(x for x in WORKLOADS if x["name"] == w["compare_to"])
    figure = results.get(other["name"], {}).get("treadle", {}).get("median", {}).get(other["metric"])
    r = ratio(value, figure)
    return {"target": "<= {} x {}".format(w["ratio_target"], other["no"]),
            "hyperloom": "{} measured: {}".format(other["no"], fmt(figure, other["unit"])) if figure else
            "{} not run".format(other["no"]),
            "ratio_hyperloom": fmt_ratio(r) + verdict(r, w["ratio_target"], True)}


def cpu_per_task(m):
    """CPU microseconds per task of every process (client, server, workers, executors), or None."""
    return m["cpu_all_s"] / m["tasks"] * 1e6 if m.get("cpu_all_s") and m.get("tasks") else None


PHASES = [("total_s", "total"), ("build_s", "build"), ("encode_s", "encode"), ("send_s", "send"),
          ("wait_s", "wait"), ("fetch_s", "fetch"), ("close_s", "close"), ("run_s", "run"), ("cpu_client_s", "cpu client"),
          ("cpu_server_s", "cpu server"), ("cpu_worker0_s", "cpu w0"), ("cpu_worker1_s", "cpu w1"),
          ("cpu_exec0_s", "cpu x0"), ("cpu_exec1_s", "cpu x1"), ("cpu_busy", "busy"), ("machine_busy", "machine")]


def phase_rows(results):
    rows = []
    for w in WORKLOADS:
        m = results.get(w["name"], {}).get("treadle", {}).get("median")
        if not m or not any(key in m for key, _ in PHASES):
            continue
        row = [w["name"]]
        for key, _ in PHASES:
            if key not in m:
                row.append("-")
            elif key in ("cpu_busy", "machine_busy"):
                row.append("{:.0f}%".format(100 * m[key]))
            else:
                row.append("{:.3f}".format(m[key]))
        rows.append(row)
    return rows


def scale_notes(results):
    """Lines saying which peers ran scaled down, and why."""
    out = []
    for w in WORKLOADS:
        t = results.get(w["name"], {}).get("treadle", {})
        for p in PEERS:
            pr = results.get(w["name"], {}).get(p)
            if not pr or pr.get("error") or not t.get("scale") or pr["scale"] >= t["scale"]:
                continue
            per = pr["median"].get(w["metric"])
            out.append("Scaled down: {} ran {} at n={:,} instead of {:,} ({} here; the full size would take "
                       "~{:.0f} s per repetition).".format(
                           PEER_NAMES[p], w["name"], pr["scale"], t["scale"], fmt(per, w["unit"]),
                           (per or 0) * 1e-6 * t["scale"] if w["unit"] in ("us/task", "us/step") else 0))
    return out


def print_report(results, peers):
    rows = summary_rows(results, peers)
    headers = ["workload", "treadle", "target", "HyperLoom (peers.md)", "treadle/HyperLoom"]
    keys = ["workload", "treadle", "target", "hyperloom", "ratio_hyperloom"]
    if peers:
        headers += ["Dask (measured)", "treadle/Dask", "ipyparallel (measured)", "treadle/ipp",
                    "ProcessPoolExecutor(2) (measured)", "treadle/PPE"]
        keys += ["dask", "ratio_dask", "ipp", "ratio_ipp", "ppe", "ratio_ppe"]
    print()
    print(table(headers, [[r.get(k, "-") for k in keys] for r in rows]))
    print()
    print("Ratios compare the same unit (time per task/step): below 1 means treadle is faster.")
    print("Peers run at the scale n shown (per-task figures); HyperLoom's figures are quoted, not measured.")
    if any(w["name"] in results for w in WORKLOADS if w["group"] == "python"):
        print("7: the peer cells show efficiency and total time; treadle/peer compares the total times.")
    if "rain10k" in results:
        print("9a: its HyperLoom cell is 6a measured in this run; treadle/HyperLoom is Rain's per-task cost / 6a's.")
    if peers:
        for line in scale_notes(results):
            print(line)
    pr = phase_rows(results)
    if pr:
        print()
        print("Where treadle's time goes (medians, seconds; cpu = CPU seconds of that process "
              "during submit..result):")
        print(table(["workload"] + [name for _, name in PHASES], pr))
        print("x0/x1: the Python executors of workers 0 and 1; busy: CPU of all of them / (total x cpus); "
              "machine: the whole machine's CPU use meanwhile, other sessions included.")
        print("6-9: build/encode/send are the client's part from the first call; cpu counts from the first call; "
              "close: closing the Rain session.")
    return rows


def run_script(key, what, cmd, timeout, env):
    """A benchmark script in a child process (its output echoed); returns its result, or
    {"error": ...} when it failed."""
    print("  {:<8} {} ...".format(key, what), flush=True)
    result, error = measure.run_child(cmd, timeout, env=env, log=sys.stdout)
    if error:
        print("  {:<8} FAILED: {}".format(key, error.splitlines()[-1]), flush=True)
        return {"error": error}
    return result


def run_kernel_bench(args, env):
    """kernel_bench.py: the treadle kernel against ipykernel."""
    cmd = [PY, KERNEL_BENCH, "--result-line",
           "--output", os.path.join(os.path.dirname(os.path.abspath(args.output)), "kernel.json")]
    if args.quick:
        cmd.append("--quick")
    return run_script("kernel", "treadle kernel and ipykernel + %load_ext treadle (kernel_bench.py)", cmd,
                      KERNEL_TIMEOUT, env)


def run_layers_bench(args, reps, env):
    """api_layers.py; ipyparallel's load-balanced view runs beside the layers with --peers."""
    ways = "native,native_map,ipython,ipython_push,scoop_map" + (",ipyparallel" if args.peers else "")
    cmd = [PY, LAYERS_BENCH, "--result-line", "--reps", str(reps), "--only", ways]
    if args.quick:
        cmd += ["--tasks", "2000", "--ipp-tasks", "300"]
    return run_script("layers", "IPython and SCOOP layers against the native API (api_layers.py)", cmd,
                      LAYERS_TIMEOUT, env)


def run_widgets_bench(args, reps, env):
    """widgets_bench.py: rendering large graphs and traces."""
    return run_script("widgets", "rendering 100k-task graphs and traces (widgets_bench.py)",
                      [PY, WIDGETS_BENCH, "--result-line", "--reps", str(reps)], WIDGETS_TIMEOUT, env)


def run_sim_bench(args, env):
    """sim_bench.py (the scheduler simulator, bench/README.md) with its output shown; its plots
    go to bench/ only when asked (`python3 bench/sim_bench.py --plots`)."""
    cmd = [PY, SIM_BENCH, "--output", os.path.join(os.path.dirname(os.path.abspath(args.output)), "sim.json")]
    if args.quick:
        cmd.append("--quick")
    print("  sim      the scheduler simulator (sim_bench.py) ...", flush=True)
    try:
        code = subprocess.run(cmd, env=env, timeout=SIM_TIMEOUT).returncode
    except subprocess.TimeoutExpired:
        code = "timeout"
    return {"error": "sim_bench.py: exit {}".format(code)} if code != 0 else {}


def print_kernel_report(kernel):
    rows = kernel.get("table") or []
    if rows:
        print()
        print("The kernel (kernel_bench.py; bench/README.md, \"The kernel\"):")
        keys = ["figure", "treadle", "target", "ipykernel", "ratio", "note"]
        print(table(["figure", "treadle kernel", "target", "ipykernel + %load_ext treadle", "treadle/ipykernel",
                     "note"], [[r.get(k, "-") for k in keys] for r in rows]))
    if kernel.get("error"):
        print("kernel benchmarks: " + kernel["error"].splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 repetition; the large plan at 100k tasks")
    ap.add_argument("--peers", action="store_true",
                    help="also run Dask distributed, ipyparallel and (6-8) ProcessPoolExecutor(2)")
    ap.add_argument("--only", default="", help="comma-separated workload names, numbers or groups "
                    "(e.g. const10k,4 or python; groups: graph = 1-5, python = 6-8, rain = 9 (with 6a), "
                    "kernel = kernel_bench.py, layers = api_layers.py, widgets = widgets_bench.py, sim = sim_bench.py)")
    ap.add_argument("--reps", type=int, default=None, help="repetitions (default 3, 1 with --quick)")
    ap.add_argument("--output", default=os.path.join(ROOT, "build", "bench", "results.json"))
    args = ap.parse_args()

    def on_sigterm(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_sigterm)

    reps = args.reps or (1 if args.quick else 3)
    selected = WORKLOADS
    run_kernel = run_layers = run_sim = run_widgets = True
    if args.only:
        wanted = {s.strip() for s in args.only.split(",") if s.strip()}
        selected = [w for w in WORKLOADS if w["name"] in wanted or w["no"] in wanted or w["group"] in wanted]
        compared = {w["compare_to"] for w in selected if w.get("compare_to")}   # run beside what they compare to
        selected = [w for w in WORKLOADS if w in selected or w["name"] in compared]
        run_kernel = "kernel" in wanted
        run_layers = "layers" in wanted
        run_sim = "sim" in wanted
        run_widgets = "widgets" in wanted
        unknown = wanted - {w["name"] for w in WORKLOADS} - {w["no"] for w in WORKLOADS} - set(GROUPS)
        if unknown or not (selected or run_kernel or run_layers or run_sim or run_widgets):
            ap.error("unknown workload {}; choose from {} (groups: {})".format(
                ", ".join(sorted(unknown)) or args.only, ", ".join(w["name"] for w in WORKLOADS), ", ".join(GROUPS)))

    env = child_env()
    check = subprocess.run([PY, "-c", "import treadle.loom.client, treadle._engine"], env=env,
                           capture_output=True, text=True)
    if check.returncode != 0:
        sys.exit("cannot import treadle from {}/prefix (run ./setup.sh build first):\n{}".format(
            ROOT, check.stderr.strip()))

    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "host": platform.node(),
            "cpus": os.cpu_count(), "python": PY, "reps": reps, "quick": args.quick, "peers": args.peers,
            "git": git_state(), "loadavg_start": os.getloadavg()}
    results = {}
    interrupted = False
    print("treadle benchmarks: {} repetition(s), median reported; peers: {}".format(
        reps, "Dask, ipyparallel, ProcessPoolExecutor(2)" if args.peers else "no (use --peers)"))
    load = os.getloadavg()[0]
    print("load average {:.2f} on {} cpus{}".format(
        load, os.cpu_count(), " -- the machine is busy, figures will be noisy" if load > 0.5 else ""))
    kernel = layers = sim = widgets = None
    try:
        for group in in_turns.comparisons(selected, args.peers):
            for (name, system), result in in_turns.run_group(group, reps, args.quick, run_one, env).items():
                results.setdefault(name, {})[system] = result
        if run_layers:
            layers = run_layers_bench(args, reps, env)
        if run_kernel:
            kernel = run_kernel_bench(args, env)
        if run_widgets:
            widgets = run_widgets_bench(args, reps, env)
        if run_sim:
            sim = run_sim_bench(args, env)
    except (KeyboardInterrupt, SystemExit):
        interrupted = True
        print("\ninterrupted: every process started was stopped; partial results follow", flush=True)
    meta["loadavg_end"] = os.getloadavg()
    rows = print_report(results, args.peers) if results else []
    if kernel is not None:
        print_kernel_report(kernel)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    out = {"meta": meta, "interrupted": interrupted, "workloads": results, "table": rows,
           "definitions": {w["name"]: {k: v for k, v in w.items() if k not in ("timeout",)} for w in selected}}
    if kernel is not None:
        out["kernel"] = kernel
    if layers is not None:
        out["layers"] = layers
    if widgets is not None:
        out["widgets"] = widgets
    with open(args.output, "w") as f:
        json.dump(out, f, indent=1)
    print("\nwrote " + os.path.relpath(args.output, os.getcwd()))
    if interrupted:
        sys.exit(130)
    failed = [n for n, e in results.items() for s, r in e.items() if r.get("error")]
    if kernel is not None and kernel.get("error"):
        failed.append("kernel")
    if layers is not None and layers.get("error"):
        failed.append("layers")
    if widgets is not None and widgets.get("error"):
        failed.append("widgets")
    if sim is not None and sim.get("error"):
        failed.append("sim")
    if failed:
        print("failed: " + ", ".join(sorted(set(failed))))
        sys.exit(1)


if __name__ == "__main__":
    main()
