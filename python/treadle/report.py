"""A standalone HTML report of a recorded run (HyperLoom's ``loom.lore``).

    client.set_trace("/path/to/mytrace")     # the server records everything from now on
    ...
    python3 -m treadle.report /path/to/mytrace

writes ``output.html`` (tasks per label group, a Gantt chart per worker, transfers) and
``trace.json`` (Chrome/Perfetto trace format) into that directory. The HTML needs no network.
"""

import html
import os
import sys
from collections import defaultdict

from . import trace as _trace

_PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7",
            "#9c755f", "#bab0ac"]


def colour_of(group, groups):
    return _PALETTE[groups.index(group) % len(_PALETTE)] if group in groups else "#999"


def summarize(events):
    """Per label group: tasks, total and mean duration (s); per worker: tasks and busy time."""
    groups = defaultdict(lambda: {"tasks": 0, "busy_s": 0.0})
    workers = defaultdict(lambda: {"tasks": 0, "busy_s": 0.0})
    for e in events:
        if e["kind"] != "task":
            continue
        d = max(0, e["end_us"] - e["start_us"]) / 1e6
        g = groups[_trace.label_group(e.get("label") or e.get("type"))]
        g["tasks"] += 1
        g["busy_s"] += d
        w = workers[e["worker"]]
        w["tasks"] += 1
        w["busy_s"] += d
    return dict(groups), dict(workers)


def gantt_svg(events, width=1000, lane_height=14, max_bars=20000):
    """One row per (worker, lane); bars coloured by label group; transfers as lines."""
    tasks = [e for e in events if e["kind"] == "task"]
    if not tasks:
        return "<p>No tasks were recorded.</p>"
    if len(tasks) > max_bars:  # keep the page light: an even sample of the bars
        step = len(tasks) / max_bars
        tasks = [tasks[int(i * step)] for i in range(max_bars)]
    t0 = min(e["start_us"] for e in tasks)
    t1 = max(e["end_us"] for e in tasks)
    span = max(1, t1 - t0)
    rows = sorted({(e["worker"], e["lane"]) for e in tasks})
    row_of = {r: i for i, r in enumerate(rows)}
    groups = sorted({_trace.label_group(e.get("label") or e.get("type")) for e in tasks})
    left = 160
    height = lane_height * len(rows) + 30
    scale = (width - left - 10) / span
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" '
             'font-size="11">'.format(width, height)]
    for (worker, lane), i in row_of.items():
        parts.append('<text x="4" y="{}">worker {} · {}</text>'.format(
            i * lane_height + 11, worker, html.escape(_trace.lane_name(lane))))
    for e in tasks:
        x = left + (e["start_us"] - t0) * scale
        w = max(0.5, (e["end_us"] - e["start_us"]) * scale)
        y = row_of[(e["worker"], e["lane"])] * lane_height + 2
        label = e.get("label") or e.get("type")
        parts.append('<rect x="{:.1f}" y="{}" width="{:.1f}" height="{}" fill="{}"><title>{} (task {}, {:.3f} ms)'
                     '</title></rect>'.format(x, y, w, lane_height - 3,
                                              colour_of(_trace.label_group(label), groups),
                                              html.escape(label), e["task"], (e["end_us"] - e["start_us"]) / 1e3))
    axis_y = lane_height * len(rows) + 14
    parts.append('<text x="{}" y="{}">0 s</text><text x="{}" y="{}" text-anchor="end">{:.3f} s</text>'.format(
        left, axis_y, width - 10, axis_y, span / 1e6))
    parts.append("</svg>")
    return "".join(parts)


def render(events):
    groups, workers = summarize(events)
    transfers = [e for e in events if e["kind"] == "transfer"]
    names = sorted(groups)
    rows = "".join('<tr><td><span style="background:{}">&nbsp;&nbsp;</span> {}</td><td>{}</td><td>{:.3f}</td>'
                   '<td>{:.3f}</td></tr>'.format(colour_of(n, names), html.escape(n or "(no label)"), g["tasks"],
                                                 g["busy_s"], g["busy_s"] / g["tasks"] * 1e3)
                   for n, g in sorted(groups.items()))
    wrows = "".join("<tr><td>worker {}</td><td>{}</td><td>{:.3f}</td></tr>".format(w, v["tasks"], v["busy_s"])
                    for w, v in sorted(workers.items()))
    moved = sum(e["size"] for e in transfers)
    return """<!DOCTYPE html><html><head><meta charset="utf-8"><title>treadle report</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{padding:2px 10px;
border-bottom:1px solid #ddd;text-align:left}}</style></head><body>
<h1>treadle report</h1>
<h2>Tasks by label group</h2><table><tr><th>group</th><th>tasks</th><th>busy (s)</th><th>mean (ms)</th></tr>{}</table>
<h2>Workers</h2><table><tr><th>worker</th><th>tasks</th><th>busy (s)</th></tr>{}</table>
<h2>Timeline</h2>{}
<h2>Transfers</h2><p>{} objects moved between workers, {} bytes in all.</p>
</body></html>""".format(rows, wrows, gantt_svg(events), len(transfers), moved)


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
    workers = sorted({e["worker"] for e in events})
    _trace.write_chrome_trace(os.path.join(directory, "trace.json"),
                              {"events": events, "workers": [{"id": w, "name": str(w)} for w in workers]})
    print("wrote {} and {}".format(os.path.join(directory, "output.html"), os.path.join(directory, "trace.json")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
