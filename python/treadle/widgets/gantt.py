"""The trace widget: ``treadle.show_trace()`` and ``%treadle trace``: a Gantt chart of what ran
where, one lane per worker lane (its event loop, its threads, each Python executor), tasks
coloured by label group, transfers as arrows between workers, with zoom (wheel), pan (drag),
hover details and a scrubber that replays the run.

The script draws on a canvas from compact columns (times in µs from the start, delta-coded,
as JSON integers). Above ``BAR_LIMIT`` tasks the bars are merged, per lane and group, into busy
segments at about the resolution of a pixel (``MERGE_PIXELS`` across the run), so a 100,000-task
run costs what 20,000 bars do. The static picture (an inline SVG, shown until the script runs,
and the image/svg+xml) is drawn at pixel resolution too.
"""

import collections
import html

from ..trace import lane_name
from .bundle import Widget, attrs, enhance, json_script, mime_bundle, new_id, static_img, style
from .colors import group_color
from .graph import group_of
from .lineage import FUNCTION_TYPES

BAR_LIMIT = 20_000          # bars sent one by one at most; above, merged busy segments
MERGE_PIXELS = 4000         # merged segments: the run cut into this many time slots
TRANSFER_LIMIT = 3000       # transfers sent at most (evenly sampled)
LABEL_LIMIT = 5000          # distinct labels sent at most (else bars say their group only)
STATIC_WIDTH = 900          # px of the static picture's time axis
STATIC_LANES = 80           # lanes drawn in the static picture at most
STATIC_RECTS = 6000         # cells of the static picture at most (lanes x cells per lane)
STATIC_TRANSFERS = 300      # transfers drawn in the static picture at most
ROW = 18                    # px per lane (the lane labels, the SVG and the canvas agree)
AXIS = 22


def _delta(values):
    out, last = [], 0
    for v in values:
        out.append(v - last)
        last = v
    return out


class TraceView(Widget):
    """A drawn trace (``trace``: a reply of treadle.trace.events, or a list of events);
    ``window``: (start µs, end µs) to keep only what overlaps it."""

    def __init__(self, trace, window=None, title="trace"):
        if isinstance(trace, list):
            trace = {"events": trace, "workers": []}
        self.dom_id = new_id("trace")
        self.title = title
        self._build(trace, window)

    # -- the data

    def _build(self, trace, window):
        names = {w["id"]: w.get("name", str(w["id"])) for w in trace.get("workers", [])}
        tasks, transfers, marks = [], [], []
        for e in trace.get("events", []):
            kind = e.get("kind")
            if window is not None and (e.get("end_us", 0) < window[0] or e.get("start_us", 0) > window[1]):
                continue
            if kind == "task":
                if e.get("type") not in FUNCTION_TYPES:   # loading a function object: not a step of the run
                    tasks.append(e)
            elif kind == "transfer":
                transfers.append(e)
            elif kind in ("worker_joined", "worker_lost"):
                marks.append(e)
            # other kinds (decisions, samples, ...) are not drawn here
        lanes = set((e["worker"], e.get("lane", 0)) for e in tasks)
        for e in transfers:
            lanes.add((e["worker"], 0))
            lanes.add((e.get("from", e["worker"]), 0))
        self.lane_keys = sorted(lanes)
        lane_index = {k: i for i, k in enumerate(self.lane_keys)}
        self.lane_names = ["{} · {}".format(names.get(w, "worker {}".format(w)), lane_name(l))
                           for w, l in self.lane_keys]
        starts = [e["start_us"] for e in tasks] + [e["start_us"] for e in transfers]
        ends = [e["end_us"] for e in tasks] + [e["end_us"] for e in transfers]
        self.t0 = min(starts) if starts else 0
        self.span = max(1, (max(ends) if ends else 0) - self.t0)
        self.task_count = len(tasks)
        self.transfer_count = len(transfers)

        groups, group_index = [], {}
        labels, label_index = [], {}
        rows = []   # (start, end, lane, group, task, label, size)
        for e in tasks:
            label = e.get("label") or ""
            gname = group_of(label, e.get("type", ""))
            gi = group_index.get(gname)
            if gi is None:
                gi = group_index[gname] = len(groups)
                groups.append(gname)
            li = label_index.get(label)
            if li is None:
                li = label_index[label] = len(labels)
                labels.append(label)
            rows.append((e["start_us"] - self.t0, max(e["end_us"], e["start_us"]) - self.t0,
                         lane_index[(e["worker"], e.get("lane", 0))], gi, e.get("task", -1), li, e.get("size", 0)))
        rows.sort()
        self.groups = groups
        self.labels = labels if len(labels) <= LABEL_LIMIT else None
        self.merged = len(rows) > BAR_LIMIT
        self.rows = rows
        self.bars = self._merge(rows) if self.merged else rows
        if len(transfers) > TRANSFER_LIMIT:
            step = len(transfers) / float(TRANSFER_LIMIT)
            transfers = [transfers[int(k * step)] for k in range(TRANSFER_LIMIT)]
        self.transfers = sorted((e["start_us"] - self.t0, max(e["end_us"], e["start_us"]) - self.t0,
                                 lane_index[(e.get("from", e["worker"]), 0)], lane_index[(e["worker"], 0)],
                                 e.get("size", 0)) for e in transfers)

    def _merge(self, rows):
        """Busy segments (start, end, lane, group, count, busy µs) at most BAR_LIMIT of them.

        First, per lane in time order, neighbours of the same group closer than one time slot
        (the run cut into MERGE_PIXELS slots) join. If groups alternate faster than that, each
        lane is cut into slots instead (as many as fit in BAR_LIMIT), each slot drawn in the
        colour of the group busiest in it, and equal neighbours join."""
        slot = max(1, self.span // MERGE_PIXELS)
        by_lane = collections.defaultdict(list)
        for row in rows:
            by_lane[row[2]].append(row)
        out = []
        for lane, items in by_lane.items():
            cur = None
            for start, end, _lane, group, _task, _label, _size in items:
                if cur is not None and cur[3] == group and start - cur[1] <= slot:
                    if end > cur[1]:
                        cur[1] = end
                    cur[4] += 1
                    cur[5] += end - start
                    continue
                if cur is not None:
                    out.append(tuple(cur))
                    if len(out) > BAR_LIMIT:
                        return self._binned(by_lane)
                cur = [start, end, lane, group, 1, end - start]
            if cur is not None:
                out.append(tuple(cur))
        if len(out) > BAR_LIMIT:
            return self._binned(by_lane)
        out.sort()
        return out

    def _binned(self, by_lane):
        slots = max(100, min(MERGE_PIXELS, BAR_LIMIT // max(1, len(by_lane))))
        width = self.span / float(slots)
        out = []
        for lane, items in by_lane.items():
            busy = collections.defaultdict(lambda: collections.Counter())   # slot -> group -> µs
            count = collections.Counter()
            for start, end, _lane, group, _task, _label, _size in items:
                k = min(slots - 1, int(start / width))
                busy[k][group] += max(1, end - start)
                count[k] += 1
            cur = None
            for k in sorted(busy):
                group = busy[k].most_common(1)[0][0]
                total = sum(busy[k].values())
                a, b = int(k * width), int((k + 1) * width)
                if cur is not None and cur[3] == group and cur[1] >= a - 1:
                    cur[1] = b
                    cur[4] += count[k]
                    cur[5] += total
                    continue
                if cur is not None:
                    out.append(tuple(cur))
                cur = [a, b, lane, group, count[k], total]
            if cur is not None:
                out.append(tuple(cur))
        out.sort()
        return out

    def payload(self):
        bars = self.bars
        p = {"t0": self.t0, "span": self.span, "lanes": self.lane_names,
             "groups": [[g or "(no label)", group_color(g)] for g in self.groups],
             "tasks": self.task_count, "merged": self.merged, "row": ROW,
             "s": _delta([b[0] for b in bars]), "d": [b[1] - b[0] for b in bars],
             "l": [b[2] for b in bars], "g": [b[3] for b in bars]}
        if self.merged:
            p["n"] = [b[4] for b in bars]
            p["busy"] = [b[5] for b in bars]
        else:
            p["t"] = [b[4] for b in bars]
            p["z"] = [b[6] for b in bars]
            if self.labels is not None:
                p["labels"] = self.labels
                p["k"] = [b[5] for b in bars]
        tr = self.transfers
        p["x"] = {"s": _delta([t[0] for t in tr]), "d": [t[1] - t[0] for t in tr], "a": [t[2] for t in tr],
                  "b": [t[3] for t in tr], "z": [t[4] for t in tr]}
        return p

    # -- the static picture

    def svg(self):
        """The static picture: per lane, cells of a few pixels, each in the colour of the group
        busiest in it (equal neighbours joined), one path per group: at most about
        STATIC_RECTS rectangles whatever the run's size."""
        lanes = min(len(self.lane_keys), STATIC_LANES)
        width, height = STATIC_WIDTH, lanes * ROW + AXIS
        cell = max(1, -(-lanes * STATIC_WIDTH // STATIC_RECTS))   # px per cell (ceiling)
        scale = width / float(self.span)
        out = ['<svg class="treadle-static" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" '
               'viewBox="0 0 {} {}" font-family="sans-serif" style="max-width:100%">'.format(
                   width, height, width, height)]
        zebra = "".join("M0 {}h{}v{}h-{}z".format(i * ROW, width, ROW, width) for i in range(1, lanes, 2))
        if zebra:
            out.append('<path fill="#f4f4f4" d="{}"/>'.format(zebra))
        busy = collections.defaultdict(collections.Counter)   # (lane, cell) -> group -> px covered
        for row in self.bars:
            start, end, lane, group = row[0], row[1], row[2], row[3]
            if lane >= lanes:
                continue
            a, b = start * scale, end * scale
            first, last = int(a) // cell, int(b) // cell
            if first == last:
                busy[(lane, first)][group] += max(b - a, 0.05)
            else:
                for k in range(first, last + 1):
                    lo, hi = max(a, k * cell), min(b, (k + 1) * cell)
                    if hi > lo:
                        busy[(lane, k)][group] += hi - lo
        paths = collections.defaultdict(list)    # group -> path pieces
        run = None                               # [lane, group, first cell, last cell]
        for lane, k in sorted(busy):
            group = busy[(lane, k)].most_common(1)[0][0]
            if run is not None and run[0] == lane and run[1] == group and run[3] == k - 1:
                run[3] = k
                continue
            if run is not None:
                paths[run[1]].append(self._cells(run, cell))
            run = [lane, group, k, k]
        if run is not None:
            paths[run[1]].append(self._cells(run, cell))
        for group, pieces in sorted(paths.items()):
            out.append('<path fill="{}" d="{}"/>'.format(group_color(self.groups[group]), "".join(pieces)))
        lines = ["M{:.0f} {}L{:.0f} {}".format(t[0] * scale, t[2] * ROW + ROW // 2, t[1] * scale, t[3] * ROW + ROW // 2)
                 for t in self.transfers[:STATIC_TRANSFERS] if t[2] < lanes and t[3] < lanes]
        if lines:
            out.append('<path fill="none" stroke="#555" stroke-width="0.7" stroke-opacity="0.6" d="{}"/>'.format(
                "".join(lines)))
        out.append(self._axis_svg(lanes * ROW, width))
        out.append("</svg>")
        return "".join(out)

    @staticmethod
    def _cells(run, cell):
        lane, _, first, last = run
        x, w = first * cell, (last - first + 1) * cell
        return "M{} {}h{}v{}h-{}z".format(x, lane * ROW + 2, w, ROW - 4, w)

    def _axis_svg(self, y, width):
        step = _nice_step(self.span / 8.0)
        out = ['<line x1="0" y1="{}" x2="{}" y2="{}" stroke="#888"/>'.format(y, width, y)]
        t = 0
        while t <= self.span:
            x = t * width / float(self.span)
            out.append('<line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}" stroke="#888"/>'
                       '<text x="{0:.1f}" y="{3}" font-size="10" fill="#444" text-anchor="middle">{4}</text>'.format(
                           x, y, y + 4, y + 16, _time(t)))
            t += step
        return "".join(out)

    # -- the bundle

    def summary(self):
        busy = sum(r[1] - r[0] for r in self.rows)
        return "{}: {} task{} on {} lane{}, {} transfer{}, {} (busy {}){}".format(
            self.title, self.task_count, "" if self.task_count == 1 else "s", len(self.lane_keys),
            "" if len(self.lane_keys) == 1 else "s", self.transfer_count, "" if self.transfer_count == 1 else "s",
            _time(self.span if self.task_count or self.transfer_count else 0), _time(busy),
            "; bars merged by group at {} slots".format(MERGE_PIXELS) if self.merged else "")

    def bundle(self):
        svg = self.svg()
        bars = len(self.bars)
        lanes = "".join('<div class="treadle-trace-lane" title="{0}" style="height:{1}px;line-height:{1}px">{0}</div>'
                        .format(html.escape(n), ROW) for n in self.lane_names)
        legend = " ".join('<span class="treadle-legend-item"><span class="treadle-swatch" style="display:inline-block;'
                          'width:10px;height:10px;border-radius:2px;background:{}"></span> {}</span>'.format(
                              group_color(g), html.escape(g or "(no label)")) for g in self.groups[:16])
        # data-bars: the task bars of the run (merged or not); data-segments: the rectangles sent.
        parts = ['<div{}>'.format(attrs(class_="treadle-trace", id=self.dom_id, data_bars=self.task_count,
                                        data_segments=bars, data_lanes=len(self.lane_keys),
                                        data_transfers=len(self.transfers), data_merged=int(self.merged))),
                 '<div class="treadle-trace-head">{}<div class="treadle-legend">{}</div></div>'.format(
                     html.escape(self.summary()), legend),
                 '<div class="treadle-trace-body"><div class="treadle-trace-lanes">{}</div>'.format(lanes),
                 '<div class="treadle-trace-plot">{}{}<canvas class="treadle-trace-canvas" style="display:none">'
                 '</canvas></div></div>'.format(svg, static_img(svg, self.summary())),
                 '<div class="treadle-trace-controls"><button class="treadle-play" type="button" title="replay">'
                 '&#9654;</button><input type="range" class="treadle-scrubber" min="0" max="1000" value="1000" '
                 'title="time"> <span class="treadle-trace-time"></span> <span class="treadle-trace-hint">'
                 'wheel: zoom · drag: pan · double-click: reset</span></div>',
                 json_script(self.payload()),
                 enhance("trace", self.dom_id),
                 "</div>", style()]
        return mime_bundle(self.summary(), "".join(parts), svg)


def _nice_step(raw):
    raw = max(raw, 1.0)
    magnitude = 10 ** (len(str(int(raw))) - 1)
    for m in (1, 2, 5, 10):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def _time(us):
    if us < 1000:
        return "{:.0f} µs".format(us)
    if us < 1_000_000:
        return "{:.3g} ms".format(us / 1000.0)
    return "{:.3g} s".format(us / 1e6)


EVENT_LIMIT = 200_000       # events asked of the server (its ring holds the last 200,000)


def window_of(trace, submissions, margin_us=1000):
    """(start µs, end µs) of what the plans ``submissions`` (lineage.Submission) ran, from the
    trace's task events; from their submission to now when none ran yet."""
    import bisect
    import time
    ranges = sorted((s.first, s.end) for s in submissions)
    firsts = [a for a, _ in ranges]

    def ours(task):
        i = bisect.bisect_right(firsts, task) - 1
        return i >= 0 and task < ranges[i][1]
    start = end = None
    for e in trace.get("events", []):
        if e.get("kind") == "task" and ours(e.get("task", -1)):
            start = e["start_us"] if start is None else min(start, e["start_us"])
            end = e["end_us"] if end is None else max(end, e["end_us"])
    if start is None:
        return (min(s.time_us for s in submissions), time.time() * 1e6)
    return (start - margin_us, end + margin_us)


# -- front doors -----------------------------------------------------------------------------------

def trace_view(client=None, window=None, limit=EVENT_LIMIT, title="trace"):
    """The TraceView of the server's recent events (``client``: a treadle.Client, a HyperLoom
    client, or a trace dict / event list; default: treadle's default client)."""
    from .. import trace as _trace
    if isinstance(client, (dict, list)):
        data = client
    else:
        if client is None:
            client = _default_connection()
        # a client (treadle's or HyperLoom's), else a raw connection
        data = _trace.events(client, limit) if hasattr(client, "_conn") or hasattr(client, "_loom") \
            else client.trace(limit)
    return TraceView(data, window=window, title=title)


def _default_connection():
    from .. import kernel_support
    s = kernel_support.session()
    if s is not None:
        return s.client()
    from .. import api
    return api.default_client()


def show_trace(client=None, window=None, limit=EVENT_LIMIT):
    """Displays the trace of the server's recent events (see trace_view)."""
    from IPython.display import display
    view = trace_view(client, window=window, limit=limit)
    display(view.bundle(), raw=True)
    return None
