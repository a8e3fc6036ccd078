"""A standalone HTML report of a recorded run (HyperLoom's ``loom.lore``).

    client.set_trace("/path/to/mytrace")     # the server records everything from now on
    ...
    python3 -m treadle.report /path/to/mytrace

writes ``output.html`` and ``trace.json`` (Chrome/Perfetto trace format) into that directory.
The page has: tasks per label group, their progress over time, workers (tasks, busy time, cpu
and memory), a Gantt chart per worker lane, scheduling (queue wait ready -> start per group, the
server's placement decisions by reason), transfers (by pair of workers) and the workers' cpu and
memory over time. It needs no network and no JavaScript: tables and inline SVG.
"""

import html
import os
import sys
from collections import Counter, defaultdict

from . import trace as _trace

# No red or pink: red means "failed" in every picture treadle draws (widgets/colors.py).
_PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#a0cbe8",
            "#8cd17d", "#bab0ac"]


_LEFT = 110  # px left of every chart's time axis, so the charts line up


def colour_of(group, groups):
    return _PALETTE[groups.index(group) % len(_PALETTE)] if group in groups else "#999"


def _group(e):
    return _trace.label_group(e.get("label") or e.get("type"))


def _esc(text):
    return html.escape(str(text))


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list (p in 0..100)."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100.0 * len(s) + 0.5)) - 1))
    return s[k]


def summarize(events):
    """Per label group: tasks, total and mean duration (s); per worker: tasks and busy time."""
    groups = defaultdict(lambda: {"tasks": 0, "busy_s": 0.0})
    workers = defaultdict(lambda: {"tasks": 0, "busy_s": 0.0})
    for e in events:
        if e["kind"] != "task":
            continue
        d = max(0, e["end_us"] - e["start_us"]) / 1e6
        g = groups[_group(e)]
        g["tasks"] += 1
        g["busy_s"] += d
        w = workers[e["worker"]]
        w["tasks"] += 1
        w["busy_s"] += d
    return dict(groups), dict(workers)


def scheduling(events):
    """Per label group: queue waits (ready -> start, ms) of the tasks that queued, and how many
    were chained behind their inputs instead; and the server's decisions counted by reason,
    cause and queueing."""
    waits = defaultdict(list)
    chained = Counter()
    for e in events:
        if e["kind"] != "task":
            continue
        w = _trace.wait_us(e)
        if w is None:
            chained[_group(e)] += 1
        else:
            waits[_group(e)].append(w / 1e3)
    groups = {}
    for g in set(waits) | set(chained):
        ws = waits.get(g, [])
        groups[g] = {"queued": len(ws), "chained": chained.get(g, 0),
                     "mean_ms": sum(ws) / len(ws) if ws else None,
                     "p50_ms": percentile(ws, 50) if ws else None,
                     "p95_ms": percentile(ws, 95) if ws else None,
                     "max_ms": max(ws) if ws else None}
    decisions = [e for e in events if e["kind"] == "decision"]
    return {"groups": groups,
            "reasons": Counter(d["reason"] for d in decisions),
            "causes": Counter(d["cause"] for d in decisions if d["cause"] != "first"),
            "queued": sum(1 for d in decisions if d.get("queued")),
            "decisions": len(decisions)}


def transfers_by_pair(events):
    """(from, to) -> {count, bytes, seconds} of the objects moved between workers."""
    pairs = defaultdict(lambda: {"count": 0, "bytes": 0, "seconds": 0.0})
    for e in events:
        if e["kind"] != "transfer":
            continue
        p = pairs[(e["from"], e["worker"])]
        p["count"] += 1
        p["bytes"] += e["size"]
        p["seconds"] += max(0, e["end_us"] - e["start_us"]) / 1e6
    return dict(pairs)


_WORKER_EVENT_TEXT = {"worker_joined": "joined", "worker_retiring": "retiring: handing its results off",
                      "worker_retired": "left (retired; nothing recomputed)", "worker_lost": "lost"}


def joins_and_leaves(events):
    """[(t_us, worker, what, name)] of workers joining, retiring, retired and lost, in order."""
    return sorted((e["start_us"], e["worker"], _WORKER_EVENT_TEXT[e["kind"]], e.get("name", ""))
                  for e in events if e["kind"] in _WORKER_EVENT_TEXT)


def cancellations(events):
    """{worker: [running, queued]}: tasks sent there and cancelled before they finished."""
    out = {}
    for e in events:
        if e["kind"] == "cancelled":
            out.setdefault(e["worker"], [0, 0])[0 if e["running"] else 1] += 1
    return out


def _time_range(events):
    times = [e["start_us"] for e in events if e["kind"] != "worker_joined"] + \
            [e["end_us"] for e in events if e["kind"] in ("task", "transfer")]
    if not times:
        return 0, 1
    return min(times), max(max(times), min(times) + 1)


def line_chart_svg(series, y_label, t0, t1, width=1000, height=220, y_max=None, step=False, max_points=400):
    """An SVG line chart: series = [(name, colour, [(t_us, y), ...])], x in seconds from t0."""
    left, right, top, bottom = _LEFT, 10, 10, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    points_all = [y for _, _, pts in series for _, y in pts]
    if y_max is None:
        y_max = max(points_all) if points_all else 1
    y_max = y_max if y_max > 0 else 1
    span = max(1, t1 - t0)

    def x_of(t):
        return left + (t - t0) / span * plot_w

    def y_of(y):
        return top + plot_h - min(y, y_max) / y_max * plot_h

    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" '
             'font-size="11">'.format(width, height)]
    parts.append('<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#888"/>'.format(left, top, top + plot_h))
    parts.append('<line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="#888"/>'.format(left, top + plot_h, left + plot_w))
    for frac in (0, 0.5, 1):
        y = top + plot_h - frac * plot_h
        parts.append('<text x="{}" y="{:.1f}" text-anchor="end">{}</text>'.format(left - 4, y + 4, _fmt(frac * y_max)))
        parts.append('<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#eee"/>'.format(left, y, left + plot_w, y))
    parts.append('<text x="{}" y="{}">0 s</text>'.format(left, top + plot_h + 14))
    parts.append('<text x="{}" y="{}" text-anchor="end">{:.3f} s</text>'.format(left + plot_w, top + plot_h + 14,
                                                                             span / 1e6))
    parts.append('<text x="14" y="{}" transform="rotate(-90 14 {})" text-anchor="middle">{}</text>'.format(
        top + plot_h // 2, top + plot_h // 2, _esc(y_label)))
    legend_x = left
    for name, colour, pts in series:
        if len(pts) > max_points:
            stride = len(pts) / max_points
            pts = [pts[int(i * stride)] for i in range(max_points)] + [pts[-1]]
        coords = []
        prev_y = None
        for t, y in pts:
            if step and prev_y is not None:
                coords.append("{:.1f},{:.1f}".format(x_of(t), y_of(prev_y)))
            coords.append("{:.1f},{:.1f}".format(x_of(t), y_of(y)))
            prev_y = y
        if len(coords) == 1:
            coords.append(coords[0])
        parts.append('<polyline class="series" fill="none" stroke="{}" stroke-width="1.5" points="{}">'
                     '<title>{}</title></polyline>'.format(colour, " ".join(coords), _esc(name)))
        parts.append('<text x="{}" y="{}" fill="{}">&#9632; {}</text>'.format(legend_x, height - 6, colour, _esc(name)))
        legend_x += 12 + 7 * len(str(name)) + 20
    parts.append("</svg>")
    return "".join(parts)


def _fmt(v):
    if v >= 100 or v == int(v):
        return "{:.0f}".format(v)
    return "{:.2g}".format(v)


def progress_svg(events, t0, t1):
    """Finished tasks per label group over time."""
    ends = defaultdict(list)
    for e in events:
        if e["kind"] == "task":
            ends[_group(e)].append(e["end_us"])
    if not ends:
        return "<p>No tasks were recorded.</p>"
    names = sorted(ends)
    series = []
    for g in names:
        times = sorted(ends[g])
        pts = [(t0, 0)] + [(t, i + 1) for i, t in enumerate(times)]
        series.append(("{} ({})".format(g or "(no label)", len(times)), colour_of(g, names), pts))
    return line_chart_svg(series, "tasks finished", t0, t1, step=True)


def resources(events):
    """Per worker: its samples [(t_us, cpu %, rss bytes, store bytes)] in time order."""
    out = defaultdict(list)
    for e in events:
        if e["kind"] == "sample":
            out[e["worker"]].append((e["start_us"], e["cpu"], e["rss"], e["store"]))
    for v in out.values():
        v.sort()
    return dict(out)


def gantt_svg(events, width=1000, lane_height=14, max_bars=20000, t0=None, t1=None):
    """One row per (worker, lane); bars coloured by label group. The time axis spans the tasks,
    or t0..t1 (µs) to line up with the other charts."""
    tasks = [e for e in events if e["kind"] == "task"]
    if not tasks:
        return "<p>No tasks were recorded.</p>"
    if len(tasks) > max_bars:  # keep the page light: an even sample of the bars
        step = len(tasks) / max_bars
        tasks = [tasks[int(i * step)] for i in range(max_bars)]
    t0 = min(e["start_us"] for e in tasks) if t0 is None else t0
    t1 = max(e["end_us"] for e in tasks) if t1 is None else t1
    span = max(1, t1 - t0)
    rows = sorted({(e["worker"], e["lane"]) for e in tasks})
    row_of = {r: i for i, r in enumerate(rows)}
    groups = sorted({_group(e) for e in tasks})
    left = _LEFT
    height = lane_height * len(rows) + 30
    scale = (width - left - 10) / span
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" '
             'font-size="11">'.format(width, height)]
    for (worker, lane), i in row_of.items():
        parts.append('<text x="{}" y="{}" text-anchor="end">w{} · {}</text>'.format(
            left - 4, i * lane_height + 11, worker, _esc(_trace.lane_name(lane))))
    for e in tasks:
        x = left + (e["start_us"] - t0) * scale
        w = max(0.5, (e["end_us"] - e["start_us"]) * scale)
        y = row_of[(e["worker"], e["lane"])] * lane_height + 2
        label = e.get("label") or e.get("type")
        wait = _trace.wait_us(e)
        extra = ", waited {:.3f} ms".format(wait / 1e3) if wait is not None else ", chained"
        if e.get("failed"):   # red, the colour no group gets, and the error in its tooltip
            extra += "; failed" + (": " + e["error"] if e.get("error") else "")
        parts.append('<rect class="task" x="{:.1f}" y="{}" width="{:.1f}" height="{}" fill="{}"><title>{} (task {}, '
                     '{:.3f} ms{})</title></rect>'.format(x, y, w, lane_height - 3,
                                                          "#d62728" if e.get("failed") else colour_of(_group(e), groups),
                                                          _esc(label), e["task"],
                                                          (e["end_us"] - e["start_us"]) / 1e3, extra))
    axis_y = lane_height * len(rows) + 14
    parts.append('<text x="{}" y="{}">0 s</text><text x="{}" y="{}" text-anchor="end">{:.3f} s</text>'.format(
        left, axis_y, width - 10, axis_y, span / 1e6))
    parts.append("</svg>")
    return "".join(parts)


def _ms(v):
    return "-" if v is None else "{:.3f}".format(v)


def _table(header, rows):
    return "<table><tr>{}</tr>{}</table>".format(
        "".join("<th>{}</th>".format(_esc(h)) for h in header),
        "".join("<tr>{}</tr>".format("".join("<td>{}</td>".format(c) for c in row)) for row in rows))


def render(events):
    groups, workers = summarize(events)
    names = sorted(groups)
    t0, t1 = _time_range(events)
    worker_names = {e["worker"]: e.get("name", "") for e in events if e["kind"] == "worker_joined"}
    tasks = [e for e in events if e["kind"] == "task"]

    def swatch(g):
        return '<span style="background:{}">&nbsp;&nbsp;</span> {}'.format(colour_of(g, names),
                                                                          _esc(g or "(no label)"))

    group_rows = [[swatch(n), g["tasks"], "{:.3f}".format(g["busy_s"]), "{:.3f}".format(g["busy_s"] / g["tasks"] * 1e3)]
                  for n, g in sorted(groups.items())]

    res = resources(events)
    worker_rows = []
    for w in sorted(set(workers) | set(res)):
        v = workers.get(w, {"tasks": 0, "busy_s": 0.0})
        samples = res.get(w, [])
        cpu = [s[1] for s in samples]
        worker_rows.append(["worker {} {}".format(w, _esc(worker_names.get(w, ""))), v["tasks"],
                            "{:.3f}".format(v["busy_s"]),
                            "{:.1f}".format(sum(cpu) / len(cpu)) if cpu else "-",
                            "{:.1f}".format(max(cpu)) if cpu else "-",
                            "{:.1f}".format(max(s[2] for s in samples) / 1e6) if samples else "-",
                            "{:.3f}".format(max(s[3] for s in samples) / 1e6) if samples else "-"])

    membership_rows = [["{:.3f}".format((t - t0) / 1e6), "worker {}".format(w), _esc(what), _esc(name)]
                       for t, w, what, name in joins_and_leaves(events)]

    cancelled = cancellations(events)
    cancel_rows = [["worker {} {}".format(w, _esc(worker_names.get(w, ""))), running, queued]
                   for w, (running, queued) in sorted(cancelled.items())]

    sched = scheduling(events)
    wait_rows = [[swatch(g), s["queued"], s["chained"], _ms(s["mean_ms"]), _ms(s["p50_ms"]), _ms(s["p95_ms"]),
                  _ms(s["max_ms"])] for g, s in sorted(sched["groups"].items())]
    reason_rows = [[_esc(r), n] for r, n in sched["reasons"].most_common()]
    cause_rows = [[_esc(c), n] for c, n in sched["causes"].most_common()]

    pairs = transfers_by_pair(events)
    moved = sum(p["bytes"] for p in pairs.values())
    count = sum(p["count"] for p in pairs.values())
    seconds = sum(p["seconds"] for p in pairs.values())
    pair_rows = [["worker {} &rarr; worker {}".format(a, b), p["count"], p["bytes"], "{:.3f}".format(p["seconds"]),
                  "{:.1f}".format(p["bytes"] / p["seconds"] / 1e6) if p["seconds"] > 0 else "-"]
                 for (a, b), p in sorted(pairs.items())]

    wnames = sorted(res)
    cpu_series = [("worker {}".format(w), _PALETTE[i % len(_PALETTE)], [(s[0], s[1]) for s in res[w]])
                  for i, w in enumerate(wnames)]
    mem_series = [("worker {} RSS".format(w), _PALETTE[i % len(_PALETTE)], [(s[0], s[2] / 1e6) for s in res[w]])
                  for i, w in enumerate(wnames)]
    mem_series += [("worker {} store".format(w), _PALETTE[(i + 5) % len(_PALETTE)],
                    [(s[0], s[3] / 1e6) for s in res[w]]) for i, w in enumerate(wnames)]
    if res:
        resource_html = ("<h3>cpu (% of the worker's cpus)</h3>" +
                         line_chart_svg(cpu_series, "cpu %", t0, t1,
                                        y_max=max(100.0, max(s[1] for v in res.values() for s in v))) +
                         "<h3>memory (MB: resident, and held in the data store)</h3>" +
                         line_chart_svg(mem_series, "MB", t0, t1))
    else:
        resource_html = "<p>No samples were recorded.</p>"

    span_s = (t1 - t0) / 1e6
    return """<!DOCTYPE html><html><head><meta charset="utf-8"><title>treadle report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin-bottom:1em}}
td,th{{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}}h3{{font-size:1em}}</style></head><body>
<h1>treadle report</h1>
<p>{tasks} on {nworkers} workers over {span:.3f} s; {ndec} placement decisions; {count} transfers{ncancelled}.</p>
<h2 id="groups">Tasks by label group</h2>{groups}
<h2 id="progress">Progress</h2><p>Tasks finished per label group over time.</p>{progress}
<h2 id="workers">Workers</h2>{workers}
<h3>Joins and leaves</h3>{membership}{cancelled}
<h2 id="timeline">Timeline</h2>{gantt}
<h2 id="scheduling">Scheduling</h2>
<p>Queue wait: from the moment the server made a task ready to its start on a worker. Chained tasks
were sent ahead, behind their inputs on the same worker, and started as soon as those were made.</p>
{waits}
<h3>Placement decisions by reason ({ndec} in all, {queued} queued behind busy cpus)</h3>{reasons}
{causes}
<h2 id="transfers">Transfers</h2><p>{count} objects moved between workers, {moved} bytes in all, {seconds:.3f} s
of fetching.</p>{pairs}
<h2 id="resources">Worker cpu and memory</h2>{resources}
</body></html>""".format(
        tasks=_esc(_trace.count_tasks(tasks, sorted({e.get("name", "").split(" (")[0] for e in events
                                                     if e["kind"] == "worker_lost"}))), nworkers=len(set(workers) | set(res) | set(worker_names)), span=span_s,
        ndec=sched["decisions"], count=count,
        groups=_table(["group", "tasks", "busy (s)", "mean (ms)"], group_rows),
        progress=progress_svg(events, t0, t1),
        workers=_table(["worker", "tasks", "busy (s)", "mean cpu %", "max cpu %", "max RSS (MB)",
                        "max store (MB)"], worker_rows),
        membership=_table(["time (s)", "worker", "event", "name"], membership_rows),
        ncancelled="; {} tasks cancelled before they finished".format(sum(map(sum, cancelled.values())))
        if cancelled else "",
        cancelled=("<h3 id=\"cancelled\">Cancelled</h3><p>Tasks sent to a worker and cancelled there before they "
                   "finished: nobody needed them any more.</p>" +
                   _table(["worker", "running then", "queued then"], cancel_rows)) if cancel_rows else "",
        gantt=gantt_svg(events, t0=t0, t1=t1),
        waits=_table(["group", "queued", "chained", "mean wait (ms)", "p50 (ms)", "p95 (ms)", "max (ms)"], wait_rows),
        queued=sched["queued"],
        reasons=_table(["reason", "decisions"], reason_rows),
        causes=("<h3>Placed again</h3>" + _table(["cause", "decisions"], cause_rows)) if cause_rows else "",
        moved=moved, seconds=seconds,
        pairs=_table(["from \u2192 to", "objects", "bytes", "time (s)", "MB/s"], pair_rows) if pair_rows else "",
        resources=resource_html)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python3 -m treadle.report TRACE_DIR", file=sys.stderr)
        return 2
    directory = argv[0]
    source = os.path.join(directory, "server.trace.jsonl")
    if not os.path.exists(source):
        print("treadle.report: no trace in {} (record one with client.set_trace({!r}))".format(directory, directory),
              file=sys.stderr)
        return 1
    events = _trace.read_jsonl(source)
    with open(os.path.join(directory, "output.html"), "w") as f:
        f.write(render(events))
    names = {e["worker"]: e.get("name", str(e["worker"])) for e in events if e["kind"] == "worker_joined"}
    workers = sorted({e["worker"] for e in events} | set(names))
    _trace.write_chrome_trace(os.path.join(directory, "trace.json"),
                              {"events": events, "workers": [{"id": w, "name": names.get(w, str(w))} for w in workers]})
    print("wrote {} and {}".format(os.path.join(directory, "output.html"), os.path.join(directory, "trace.json")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
