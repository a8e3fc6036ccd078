"""Workers joining and leaving in the trace widget (the trace's ``worker_joined``,
``worker_retiring``, ``worker_retired`` and ``worker_lost`` events, docs/tracing.md): a mark
across the worker's lanes at the event's moment, a colour and shape per kind (a lost worker in
an alarming red-brown, never a label group's colour), a legend entry for each kind present, a
hover that says what happened, when, to which worker (host:pid) and, for a lost one, why; the
summary counts them ("1 worker lost").

A worker that joined before the first task drawn has no mark: it was there from the start.
"""

import html

from .trace_time import duration as _time

# kind -> (what the legend and the hover say, colour, the shape at the mark's top)
KINDS = {
    "worker_joined": ("worker joined", "#2a8c3c", "joined"),
    "worker_retiring": ("worker retiring", "#d08a00", "retiring"),
    "worker_retired": ("worker retired", "#5b6a7d", "retired"),
    "worker_lost": ("worker lost", "#a0001c", "lost"),
}
ORDER = ("worker_lost", "worker_retiring", "worker_retired", "worker_joined")   # legend, summary
SUMMARY = {"worker_joined": "joined", "worker_retiring": "retiring", "worker_retired": "retired",
           "worker_lost": "lost"}
MARK_LIMIT = 2000           # marks drawn at most (the latest; a long session of adaptive scaling)


class WorkerMarks:
    """The worker events of a trace (``events``) as marks; ``t0`` and ``end``: the time drawn
    (µs), set by ``fit`` once the bars are known."""

    def __init__(self, events, names):
        self.events = sorted(events, key=lambda e: e.get("start_us", 0))[-MARK_LIMIT:]
        self.names = names   # worker id -> its name (host:pid)

    def worker_names(self):
        """worker id -> host:pid, as the events name them (a worker gone may be in no list)."""
        return {e.get("worker"): self.name(e) for e in self.events}

    def fit(self, t0, has_bars):
        """Leaves out joins before ``t0`` (the first bar) when there are bars; the marks kept."""
        if has_bars:
            self.events = [e for e in self.events if e["kind"] != "worker_joined" or e["start_us"] >= t0]
        return self.events

    def counts(self):
        out = {}
        for e in self.events:
            out[e["kind"]] = out.get(e["kind"], 0) + 1
        return out

    def lost(self):
        """worker id -> host:pid of the workers lost."""
        return {e.get("worker"): self.name(e) for e in self.events if e["kind"] == "worker_lost"}

    def summary(self):
        """", 1 worker lost, 2 workers joined" (empty without marks)."""
        counts = self.counts()
        return "".join(", {} worker{} {}".format(counts[k], "" if counts[k] == 1 else "s", SUMMARY[k])
                       for k in ORDER if counts.get(k))

    def name(self, e):
        """The worker's host:pid (a lost worker's event name adds the reason in brackets)."""
        name = e.get("name") or self.names.get(e.get("worker")) or "worker {}".format(e.get("worker"))
        reason = e.get("reason")
        if reason and name.endswith(" ({})".format(reason)):
            name = name[:-len(reason) - 3]
        return name

    def payload(self, t0, lane_span):
        """Columns for the script: times from t0, kind indices (into ``kinds``: [name, colour,
        shape]), the first and last lane of the worker, the hover text."""
        kinds = [k for k in ORDER if any(e["kind"] == k for e in self.events)]
        index = {k: i for i, k in enumerate(kinds)}
        rows = sorted((e["start_us"] - t0, e) for e in self.events)
        return {"kinds": [list(KINDS[k]) for k in kinds],
                "t": [t for t, _ in rows], "k": [index[e["kind"]] for _, e in rows],
                "a": [lane_span(e["worker"])[0] for _, e in rows], "b": [lane_span(e["worker"])[1] for _, e in rows],
                "tip": [self.tip(e, t) for t, e in rows]}

    def tip(self, e, t):
        what = KINDS[e["kind"]][0]
        lines = ["{}: {} (id {})".format(what, self.name(e), e.get("worker")), "at " + _time(t)]
        if e["kind"] == "worker_lost":
            reason = e.get("reason") or _bracketed(e.get("name", ""))
            lines.append("why: " + (reason or "unknown"))
            lines.append("its unfinished tasks go to other workers; results only it held are computed again")
        elif e["kind"] == "worker_retiring":
            lines.append("asked to leave: takes no new tasks, hands its results off")
        elif e["kind"] == "worker_retired":
            lines.append("left on purpose: nothing it made is recomputed")
        return "\n".join(lines)

    def legend(self):
        """The legend's entries, one per kind present: a swatch in the kind's colour."""
        present = self.counts()
        return "".join(' <span class="treadle-legend-item treadle-legend-worker" data-kind="{}"><span '
                       'class="treadle-swatch" style="display:inline-block;width:3px;height:12px;'
                       'background:{}"></span> {}</span>'.format(k, KINDS[k][1], html.escape(KINDS[k][0]))
                       for k in ORDER if present.get(k))

    def svg(self, t0, scale, lane_span, tops, row, lanes, width):
        """The static picture's marks: a line across the worker's lanes drawn (of the first
        ``lanes``), with its shape at the top, each with its hover text (<title>); one at the
        end of the run stays inside the ``width``."""
        out = []
        for e in self.events:
            a, b = lane_span(e["worker"])
            if a >= lanes:
                continue
            b = min(b, lanes - 1)
            label, color, shape = KINDS[e["kind"]]
            x = min(round((e["start_us"] - t0) * scale, 1), width - 1)
            y0, y1 = tops[a], tops[b] + row
            width = 2 if shape == "lost" else 1.5
            dash = ' stroke-dasharray="3,2"' if shape == "retiring" else ""
            out.append('<g class="treadle-worker-mark" data-kind="{}"><title>{}</title>'
                       '<line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="{c}" stroke-width="{}"{}/>{}</g>'.format(
                           e["kind"], html.escape(self.tip(e, e["start_us"] - t0)), y0, y1, width, dash,
                           _shape_svg(shape, x, y0, color), x=x, c=color))
        return "".join(out)


def _shape_svg(shape, x, y, color):
    if shape == "lost":     # a cross at the top
        return ('<path d="M{0} {1}l6 6m0 -6l-6 6" stroke="{2}" stroke-width="2" fill="none"/>'.format(
            x - 3, y + 1, color))
    if shape == "joined":   # a triangle pointing right: in
        return '<path d="M{} {}l5 3l-5 3z" fill="{}"/>'.format(x, y + 1, color)
    if shape == "retired":  # a triangle pointing left: out
        return '<path d="M{} {}l-5 3l5 3z" fill="{}"/>'.format(x, y + 1, color)
    return ""


def _bracketed(name):
    return name[name.rfind(" (") + 2:-1] if name.endswith(")") and " (" in name else ""

