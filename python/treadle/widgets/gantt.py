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
import re
import time

from .. import api
from .. import trace as _trace
from ..core.lineage import FUNCTION_TYPES
from ..trace import lane_help, lane_name
from . import trace_picture
from .bundle import Widget, attrs, enhance, json_script, live_part, mime_bundle, new_id, static_img, style
from .colors import group_color
from .task_graph import group_of
from .trace_attempts import ATTEMPT_COLOR, ATTEMPT_GROUP, Attempts
from .trace_cancels import CANCELLED_COLOR, CANCELLED_GROUP, Cancels, mark_lane, ran_from
from .trace_cancels import label as cancelled_label
from .trace_time import axis_time as _axis_time, nice_step as _nice_step, duration as _time
from .trace_workers import WorkerMarks
from .transfers import arrow_opacity, arrow_width, transfer_arrows

# Failed tasks are drawn in red, the colour no label group gets (colors.py), under this name.
FAILED_GROUP = "✗ failed"
FAILED_COLOR = "#d62728"   # the graph's failed border (states.py)
_OWN_COLORS = {FAILED_GROUP: FAILED_COLOR, CANCELLED_GROUP: CANCELLED_COLOR, ATTEMPT_GROUP: ATTEMPT_COLOR}


def _color(group):
    return _OWN_COLORS.get(group) or group_color(group)


BAR_LIMIT = 20_000          # bars sent one by one at most; above, merged busy segments
MERGE_PIXELS = 4000         # merged segments: the run cut into this many time slots
LABEL_LIMIT = 5000          # distinct labels sent at most (else bars say their group only)
WHY_LIMIT = 1000            # distinct placement texts sent at most (else their numbers are left out)
# A worker joining, starting to retire, leaving on purpose, or lost: marks on the timeline.
WORKER_EVENTS = ("worker_joined", "worker_retiring", "worker_retired", "worker_lost")
CPU_POINTS = 300            # cpu samples per worker sent at most (averaged over neighbours above)
CPU_POINTS_TOTAL = 20_000   # and over all workers
CPU_H = 14                  # px of a worker's cpu strip
STATIC_WIDTH = 900          # px of the static picture's time axis
STATIC_LANES = 80           # lanes drawn in the static picture at most
STATIC_RECTS = 6000         # cells of the static picture at most (lanes x cells per lane)
STATIC_TRANSFERS = 300      # transfer arrows drawn in the static picture at most (the busiest)
ROW = 22                    # px per lane (the lane labels, the SVG and the canvas agree)
AXIS = 26                   # px under the lanes: the time axis (12 px text, readable on a projector)
AXIS_FONT = 12
MIN_BAR_PX = 4              # a task bar is never drawn narrower: a short task after long ones shows
SAMPLE_INTERVAL_US = 500_000   # a worker's heartbeat: what a first sample's cpu % covers

_DIGITS = re.compile(r"\d+")


def _delta(values):
    out, last = [], 0
    for v in values:
        out.append(v - last)
        last = v
    return out


class TraceView(Widget):
    """A drawn trace (``trace``: a reply of treadle.trace.events, or a list of events);
    ``window``: (start µs, end µs) to keep only what overlaps it (an end of None: up to now).
    ``live``: the run is still going on (a LiveTrace redraws it); ``dom_id``: the id to keep
    (a live trace keeps one through its updates); ``to_run``: tasks of the run not ended when
    drawn (a static trace of a run still going on says so, and is redrawn once they end)."""

    def __init__(self, trace, window=None, title="trace", live=False, dom_id=None, to_run=0):
        if isinstance(trace, list):
            trace = {"events": trace, "workers": []}
        self.dom_id = dom_id or new_id("trace")
        self.title = title
        self.live = live
        self.to_run = to_run
        if window is not None and window[1] is None:
            window = (window[0], float("inf"))
        self._build(trace, window, live)

    # -- the data

    def _build(self, trace, window, live=False):
        workers = {w["id"]: w for w in trace.get("workers", [])}
        names = {w: info.get("name", str(w)) for w, info in workers.items()}
        tasks, transfers, marks, cancels = [], [], [], []
        decided = {}                                    # task -> its latest decision
        samples = collections.defaultdict(list)         # worker -> sample events
        for e in trace.get("events", []):
            kind = e.get("kind")
            # decisions come before their task's start, samples after what they measure:
            # both are kept whatever the window (the tasks and the time axis pick them)
            if kind == "decision":
                if e.get("task") is not None:
                    decided[e["task"]] = e
                continue
            if kind == "sample":
                samples[e.get("worker")].append(e)
                continue
            if window is not None and (e.get("end_us", 0) < window[0] or e.get("start_us", 0) > window[1]):
                continue
            if kind == "task":
                if e.get("type") not in FUNCTION_TYPES:   # loading a function object: not a step of the run
                    tasks.append(e)
            elif kind == "transfer":
                transfers.append(e)
            elif kind in WORKER_EVENTS:
                marks.append(e)
            elif kind == "cancelled":
                cancels.append(e)
        cancels = Cancels(cancels)
        ended = [e for e in tasks if cancels.ended_as_bar(e)]   # recoloured below, no mark besides
        lanes = set((e["worker"], e.get("lane", 0)) for e in tasks)
        for e in transfers:
            lanes.add((e["worker"], 0))
            lanes.add((e.get("from", e["worker"]), 0))
        cancel_marks = [(e, mark_lane(e.get("worker"), lanes)) for e in cancels.marks()]
        lanes.update(lane for _, lane in cancel_marks)
        drawn = [e["start_us"] for e in tasks + transfers] + [ran_from(e) for e, _ in cancel_marks]
        self.worker_marks = WorkerMarks(marks, names)   # across their worker's lanes (one if it has none)
        marks = self.worker_marks.fit(min(drawn) if drawn else 0, bool(drawn))
        names.update((w, n) for w, n in self.worker_marks.worker_names().items() if w not in names)
        lanes.update(mark_lane(e["worker"], lanes) for e in marks)
        self.lane_keys = sorted(lanes)
        lane_index = {k: i for i, k in enumerate(self.lane_keys)}
        self.worker_lanes = {}    # worker -> its first and last lane (contiguous: sorted by worker)
        for i, (w, _) in enumerate(self.lane_keys):
            self.worker_lanes[w] = (self.worker_lanes.get(w, (i,))[0], i)
        self.lane_names = ["{} · {}".format(names.get(w, "worker {}".format(w)), lane_name(l))
                           for w, l in self.lane_keys]
        starts = drawn + [e["start_us"] for e in marks]
        ends = [e["end_us"] for e in tasks + transfers + marks] + [e["end_us"] for e, _ in cancel_marks]
        self.t0 = min(starts) if starts else 0
        self.span = max(1, (max(ends) if ends else 0) - self.t0)
        if live and starts:   # a run going on: its time axis reaches now, past the last task that ended
            self.span = max(self.span, int(time.time() * 1e6) - self.t0)
        self.attempts = Attempts(tasks, self.worker_marks.lost())   # a task run again: a bar per run
        self.task_count = self.attempts.count
        failed = set()
        self.cancelled_count = len(cancels)
        self.transfer_count = len(transfers)

        groups, group_index = [], {}
        labels, label_index = [], {}
        whys, why_index = [], {}
        rows = []   # (start, end, lane, group, task, label, size, queue wait or -1, why or -1)
        ended = {id(e) for e in ended}
        marked = [{"task": e.get("task"), "worker": lane[0], "lane": lane[1], "start_us": ran_from(e),
                   "end_us": e["end_us"], "_cancel": e} for e, lane in cancel_marks]
        for e in tasks + marked:
            label = e.get("label") or ""
            gname = group_of(label, e.get("type", ""))
            cancel = e.get("_cancel") or (cancels.by_task[e.get("task")] if id(e) in ended else None)
            gname, label = self.attempts.relabel(e, gname, label)   # which run, an earlier one pale
            if cancel is not None:   # its own grey group; its label says how
                gname, label = CANCELLED_GROUP, cancelled_label(cancel, label)
            elif e.get("failed"):   # its own red group; its label says why
                gname = FAILED_GROUP
                failed.add(e.get("task"))
                label = "{} — failed{}".format(label or gname, ": " + e["error"] if e.get("error") else "")
            gi = group_index.get(gname)
            if gi is None:
                gi = group_index[gname] = len(groups)
                groups.append(gname)
            li = label_index.get(label)
            if li is None:
                li = label_index[label] = len(labels)
                labels.append(label)
            d = decided.get(e.get("task"))
            ready = e.get("ready_us")
            if ready is None and d is not None and "_cancel" not in e:   # a mark has no start: no wait
                ready = d.get("ready_us")
            wait = max(0, e["start_us"] - ready) if ready is not None else -1
            wi = -1
            why = d.get("why") if d is not None else None
            if why:
                wi = why_index.get(why)
                if wi is None:
                    if len(whys) >= WHY_LIMIT:       # bounded: the same text without its numbers
                        why = _DIGITS.sub("…", why)
                        wi = why_index.get(why)
                    if wi is None:
                        wi = why_index[why] = len(whys)
                        whys.append(why)
            rows.append((e["start_us"] - self.t0, max(e["end_us"], e["start_us"]) - self.t0,
                         lane_index[(e["worker"], e.get("lane", 0))], gi, e.get("task", -1), li, e.get("size", 0),
                         wait, wi))
        rows.sort()
        self.failed_count = len(failed)
        self.tasks_said = self.attempts.said(failed)
        self.groups = groups
        self.labels = labels if len(labels) <= LABEL_LIMIT else None
        self.whys = whys
        self.merged = len(rows) > BAR_LIMIT
        self.rows = rows
        self.busy_us = _covered_us(rows)   # the summary's, which a bundle asks for thrice
        self.bars = self._merge(rows) if self.merged else rows
        self.transfers, self.transfers_aggregated, self.transfers_left_out = transfer_arrows(
            [(e["start_us"] - self.t0, max(e["end_us"], e["start_us"]) - self.t0,
              lane_index[(e.get("from", e["worker"]), 0)], lane_index[(e["worker"], 0)], e.get("size", 0))
             for e in transfers], self.span)
        self._place_rows(samples, workers)

    def _place_rows(self, samples, workers):
        """Where each lane goes (px from the top), and above each worker's first lane its cpu
        strip when it sent samples: the lane tops, the strips, the height."""
        strips = []
        tops = []
        y = 0
        last_worker = object()
        budget = max(2, CPU_POINTS_TOTAL // max(1, len(set(w for w, _ in self.lane_keys))))
        for w, _lane in self.lane_keys:
            if w != last_worker:
                last_worker = w
                points = self._cpu_points(samples.get(w, ()), min(CPU_POINTS, budget))
                if points is not None:
                    info = workers.get(w, {})
                    strips.append({"worker": w, "y": y, "name": info.get("name", "worker {}".format(w)),
                                   "cpus": info.get("cpus", 0), "points": points})
                    y += CPU_H
            tops.append(y)
            y += ROW
        self.lane_tops = tops
        self.strips = strips
        self.height = y

    def _cpu_points(self, events, limit):
        """A worker's samples over the run: (first covered µs, [(µs, cpu %, rss, store, spilled)])
        relative to t0; a sample covers the time since the one before (a heartbeat). None when
        none falls in the run. At most ``limit`` points (neighbours averaged)."""
        events = sorted(events, key=lambda e: e.get("start_us", 0))
        end = self.t0 + self.span
        picked, before = [], None
        for e in events:
            t = e.get("start_us", 0)
            if t <= self.t0:
                before = t
                continue
            picked.append(e)
            if t >= end:
                break       # this one covers the end of the run
        if not picked:
            return None
        first = before if before is not None else picked[0]["start_us"] - SAMPLE_INTERVAL_US
        if len(picked) > limit:
            size = -(-len(picked) // limit)
            chunks = [picked[i:i + size] for i in range(0, len(picked), size)]
        else:
            chunks = [[e] for e in picked]
        points = []
        for chunk in chunks:
            points.append((chunk[-1]["start_us"] - self.t0,
                           sum(float(e.get("cpu", 0)) for e in chunk) / len(chunk),
                           max(e.get("rss", 0) for e in chunk), max(e.get("store", 0) for e in chunk),
                           max(e.get("spilled", 0) for e in chunk)))
        return first - self.t0, points

    def _merge(self, rows):
        """Busy segments (start, end, lane, group, count, busy µs, sum of the known queue waits,
        how many are known) at most BAR_LIMIT of them.

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
            for row in items:
                start, end, group, wait = row[0], row[1], row[3], row[7]
                if cur is not None and cur[3] == group and start - cur[1] <= slot:
                    if end > cur[1]:
                        cur[1] = end
                    cur[4] += 1
                    cur[5] += end - start
                    if wait >= 0:
                        cur[6] += wait
                        cur[7] += 1
                    continue
                if cur is not None:
                    out.append(tuple(cur))
                    if len(out) > BAR_LIMIT:
                        return self._binned(by_lane)
                cur = [start, end, lane, group, 1, end - start, max(wait, 0), 1 if wait >= 0 else 0]
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
            waits = collections.defaultdict(lambda: [0, 0])
            for row in items:
                start, end, group, wait = row[0], row[1], row[3], row[7]
                k = min(slots - 1, int(start / width))
                busy[k][group] += max(1, end - start)
                count[k] += 1
                if wait >= 0:
                    waits[k][0] += wait
                    waits[k][1] += 1
            cur = None
            for k in sorted(busy):
                group = busy[k].most_common(1)[0][0]
                total = sum(busy[k].values())
                a, b = int(k * width), int((k + 1) * width)
                w = waits.get(k, (0, 0))
                if cur is not None and cur[3] == group and cur[1] >= a - 1:
                    cur[1] = b
                    cur[4] += count[k]
                    cur[5] += total
                    cur[6] += w[0]
                    cur[7] += w[1]
                    continue
                if cur is not None:
                    out.append(tuple(cur))
                cur = [a, b, lane, group, count[k], total, w[0], w[1]]
            if cur is not None:
                out.append(tuple(cur))
        out.sort()
        return out

    def payload(self):
        bars = self.bars
        p = {"t0": self.t0, "span": self.span, "lanes": self.lane_names,
             "groups": [[g or "(no label)", _color(g)] for g in self.groups],
             "tasks": self.task_count, "merged": self.merged, "row": ROW, "axis": AXIS, "font": AXIS_FONT,
             "minw": MIN_BAR_PX,
             "ly": self.lane_tops, "h": self.height,
             "s": _delta([b[0] for b in bars]), "d": [b[1] - b[0] for b in bars],
             "l": [b[2] for b in bars], "g": [b[3] for b in bars]}
        if self.merged:
            p["n"] = [b[4] for b in bars]
            p["busy"] = [b[5] for b in bars]
            if any(b[7] for b in bars):      # the mean queue wait of the tasks that queued
                p["q"] = [b[6] // b[7] if b[7] else -1 for b in bars]
        else:
            p["t"] = [b[4] for b in bars]
            p["z"] = [b[6] for b in bars]
            if self.labels is not None:
                p["labels"] = self.labels
                p["k"] = [b[5] for b in bars]
            if any(b[7] >= 0 for b in bars):
                p["q"] = [b[7] for b in bars]
            if self.whys:
                p["whys"] = self.whys
                p["y"] = [b[8] for b in bars]
        tr = self.transfers
        p["x"] = {"s": _delta([t[0] for t in tr]), "d": [t[1] - t[0] for t in tr], "a": [t[2] for t in tr],
                  "b": [t[3] for t in tr], "z": [t[4] for t in tr]}
        if self.transfers_aggregated:
            p["x"]["n"] = [t[5] for t in tr]
            p["x"]["w"] = [t[6] for t in tr]
            p["x"]["f"] = [t[7] for t in tr]
        p["xcount"] = self.transfer_count
        if CANCELLED_GROUP in self.groups:   # its bars' hover says when, not how long
            p["cancelled"] = self.groups.index(CANCELLED_GROUP)
        if self.worker_marks.events:
            p["wm"] = self.worker_marks.payload(self.t0, self.worker_lanes.get)
        if self.strips:
            p["cpu"] = [self._strip_payload(st) for st in self.strips]
            p["ch"] = CPU_H
        return p

    @staticmethod
    def _strip_payload(strip):
        first, points = strip["points"]
        mb = 1e6
        return {"y": strip["y"], "name": strip["name"], "cpus": strip["cpus"], "f": first,
                "t": _delta([pt[0] for pt in points]), "c": [round(pt[1], 1) for pt in points],
                "m": [round(pt[2] / mb, 1) for pt in points], "st": [round(pt[3] / mb, 1) for pt in points],
                "sp": [round(pt[4] / mb, 1) for pt in points]}

    # -- the static picture

    def svg(self):
        """The static picture: per lane, cells of a few pixels, each in the colour of the group
        busiest in it (equal neighbours joined), one path per group: at most about
        STATIC_RECTS rectangles whatever the run's size; the cpu strips; the busiest
        STATIC_TRANSFERS transfer arrows, thicker for more transfers."""
        lanes = min(len(self.lane_keys), STATIC_LANES)
        tops = self.lane_tops
        plot_h = tops[lanes - 1] + ROW if lanes else 0
        width, height = STATIC_WIDTH, plot_h + AXIS
        cell = max(1, -(-lanes * STATIC_WIDTH // STATIC_RECTS))   # px per cell (ceiling)
        scale = width / float(self.span)
        out = ['<svg class="treadle-static" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" '
               'viewBox="0 0 {} {}" font-family="sans-serif" style="max-width:100%">'.format(
                   width, height, width, height)]
        zebra = "".join("M0 {}h{}v{}h-{}z".format(tops[i], width, ROW, width) for i in range(1, lanes, 2))
        if zebra:
            out.append('<path fill="#f4f4f4" d="{}"/>'.format(zebra))
        for strip in self.strips:
            if strip["y"] < plot_h:
                out.append(self._strip_svg(strip, scale, width))
        busy = collections.defaultdict(collections.Counter)   # (lane, cell) -> group -> px covered
        for row in self.bars:
            start, end, lane, group = row[0], row[1], row[2], row[3]
            if lane >= lanes:
                continue
            a, b = start * scale, end * scale
            weight = 1
            if b - a < MIN_BAR_PX and not self.merged:   # a short task stays visible (it wins its cells)
                a = min(a, width - MIN_BAR_PX)
                b, weight = a + MIN_BAR_PX, 4
            first, last = int(a) // cell, int(b) // cell
            if first == last:
                busy[(lane, first)][group] += max(b - a, 0.05) * weight
            else:
                for k in range(first, last + 1):
                    lo, hi = max(a, k * cell), min(b, (k + 1) * cell)
                    if hi > lo:
                        busy[(lane, k)][group] += (hi - lo) * weight
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
            out.append('<path fill="{}" d="{}"/>'.format(_color(self.groups[group]), "".join(pieces)))
        out.append(self._transfers_svg(lanes, scale))
        out.append(self.worker_marks.svg(self.t0, scale, self.worker_lanes.get, tops, ROW, lanes, width))
        out.append(self._axis_svg(plot_h, width))
        out.append("</svg>")
        return "".join(out)

    def _transfers_svg(self, lanes, scale):
        drawn = [t for t in self.transfers if t[2] < lanes and t[3] < lanes]
        if len(drawn) > STATIC_TRANSFERS:
            drawn = sorted(drawn, key=lambda t: -t[5])[:STATIC_TRANSFERS]
        by_width = collections.defaultdict(list)
        tops = self.lane_tops
        for t in drawn:
            x0, x1 = t[0] * scale, t[1] * scale
            y0, y1 = tops[t[2]] + ROW // 2, tops[t[3]] + ROW // 2
            head = -4 if y1 >= y0 else 4
            by_width[arrow_width(t[5])].append("M{:.0f} {}L{:.0f} {}M{:.0f} {}l-3 {}m3 {}l3 {}".format(
                x0, y0, x1, y1, x1, y1, head, -head, head))
        out = []
        for w, pieces in sorted(by_width.items()):
            out.append('<path fill="none" stroke="#444" stroke-width="{}" stroke-opacity="{}" d="{}"/>'.format(
                w, arrow_opacity(w), "".join(pieces)))
        return "".join(out)

    def _strip_svg(self, strip, scale, width):
        """A worker's cpu % as steps (each sample covers the time since the one before)."""
        first, points = strip["points"]
        base = strip["y"] + CPU_H - 1
        d, prev = [], first
        for t, cpu, _rss, _store, _spilled in points:
            x0, x1 = max(0.0, prev * scale), min(float(width), t * scale)
            prev = t
            h = min(1.0, cpu / 100.0) * (CPU_H - 3)
            if x1 > x0 and h > 0:
                d.append("M{:.1f} {:.1f}H{:.1f}V{}H{:.1f}z".format(x0, base - h, x1, base, x0))
        return ('<path fill="#f8f8f8" d="M0 {}h{}v{}h-{}z"/><path fill="#466eaa" fill-opacity="0.45" d="{}"/>'.format(
            strip["y"], width, CPU_H, width, "".join(d)))

    def _cells(self, run, cell):
        lane, _, first, last = run
        x, w = first * cell, (last - first + 1) * cell
        return "M{} {}h{}v{}h-{}z".format(x, self.lane_tops[lane] + 2, w, ROW - 4, w)

    def _axis_svg(self, y, width):
        step = _nice_step(self.span / 8.0)
        out = ['<line x1="0" y1="{}" x2="{}" y2="{}" stroke="#888"/>'.format(y, width, y)]
        t = 0
        while t <= self.span:
            x = t * width / float(self.span)
            out.append('<line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}" stroke="#888"/>'
                       '<text x="{0:.1f}" y="{3}" font-size="{5}" fill="#444" text-anchor="middle">{4}</text>'.format(
                           x, y, y + 4, y + 17, _axis_time(t), AXIS_FONT))
            t += step
        return "".join(out)

    # -- the bundle

    def summary(self):
        busy = self.busy_us
        return "{}: {} on {} lane{}{}{}, {} transfer{}, {} (busy {}){}{}".format(
            self.title, self.tasks_said, len(self.lane_keys),
            "" if len(self.lane_keys) == 1 else "s",
            ", {} cancelled".format(self.cancelled_count) if self.cancelled_count else "", self.worker_marks.summary(),
            self.transfer_count, "" if self.transfer_count == 1 else "s",
            _time(self.span if self.task_count or self.transfer_count or busy else 0), _time(busy),
            "; bars merged by group at {} slots".format(MERGE_PIXELS) if self.merged else "",
            "; transfers drawn as {} arrow{} (per pair of lanes and time slots{})".format(
                len(self.transfers), "" if len(self.transfers) == 1 else "s",
                ", the busiest" if self.transfers_left_out else "")
            if self.transfers_aggregated else "") + (
            "; {} task{} still to run (redrawn when the run ends)".format(self.to_run, "" if self.to_run == 1 else "s")
            if self.to_run else "")

    def bundle(self):
        svg = self.svg()
        picture = trace_picture.labelled(self, svg, (ROW, CPU_H, AXIS, STATIC_LANES, STATIC_WIDTH))
        bars = len(self.bars)
        label_rows = []
        strips = {st["y"]: st for st in self.strips}
        y = 0
        for name, (_, lane) in zip(self.lane_names, self.lane_keys):
            if y in strips:
                label_rows.append('<div class="treadle-trace-cpu" title="cpu use of {0} (% of its cpus)" '
                                  'style="height:{1}px;line-height:{1}px">{0} · cpu %</div>'.format(
                                      html.escape(strips[y]["name"]), CPU_H))
                y += CPU_H
            label_rows.append('<div class="treadle-trace-lane" title="{0}: {2}" style="height:{1}px;'
                              'line-height:{1}px">{0}</div>'.format(html.escape(name), ROW, html.escape(lane_help(lane))))
            y += ROW
        busy = collections.Counter()      # the legend: the 16 groups busiest in the run
        for row in self.bars:
            busy[row[3]] += row[1] - row[0]
        # the 16 busiest, and failed and cancelled tasks whatever their share
        shown = sorted(range(len(self.groups)), key=lambda g: (self.groups[g] not in _OWN_COLORS, -busy[g]))[:16]
        legend = " ".join('<span class="treadle-legend-item"><span class="treadle-swatch" style="display:inline-block;'
                          'width:10px;height:10px;border-radius:2px;background:{}"></span> {}</span>'.format(
                              _color(self.groups[g]), html.escape(self.groups[g] or "(no label)"))
                          for g in shown) + self.worker_marks.legend()
        # data-bars: the task bars of the run (merged or not); data-segments: the rectangles sent;
        # data-transfers: the transfers of the run; data-transfer-arrows: the arrows sent.
        parts = ['<div{}>'.format(attrs(class_="treadle-trace", id=self.dom_id,
                                        data_bars=len(self.rows), data_tasks=self.task_count,
                                        data_run_again=self.attempts.run_again,
                                        data_cancelled=self.cancelled_count,
                                        data_worker_marks=len(self.worker_marks.events),
                                        data_workers_lost=self.worker_marks.counts().get("worker_lost", 0),
                                        data_segments=bars, data_lanes=len(self.lane_keys),
                                        data_transfers=self.transfer_count,
                                        data_transfer_arrows=len(self.transfers),
                                        data_cpu_strips=len(self.strips), data_merged=int(self.merged),
                                        data_live=int(self.live), data_to_run=self.to_run)),
                 '<div class="treadle-trace-head">{}<div class="treadle-legend">{}</div></div>'.format(
                     html.escape(self.summary()), legend),
                 static_img(picture, self.summary()),
                 live_part('<div class="treadle-trace-body"><div class="treadle-trace-lanes">{}</div>'
                           '<div class="treadle-trace-plot"><canvas class="treadle-trace-canvas"></canvas></div></div>'
                           '<div class="treadle-trace-controls"><button class="treadle-play" type="button" '
                           'title="replay">&#9654;</button><input type="range" class="treadle-scrubber" min="0" '
                           'max="1000" value="1000" title="time"> <span class="treadle-trace-time"></span> '
                           '<span class="treadle-trace-hint">wheel: zoom · drag: pan · double-click: reset</span>'
                           '</div>'.format("".join(label_rows))),
                 json_script(self.payload()),
                 enhance("trace", self.dom_id),
                 "</div>", style()]
        return mime_bundle(self.summary(), "".join(parts), picture)


EVENT_LIMIT = 200_000       # events asked of the server (its ring holds the last 200,000)


# -- front doors -----------------------------------------------------------------------------------

def trace_view(client=None, window=None, limit=EVENT_LIMIT, title="trace"):
    """The TraceView of the server's recent events (``client``: a client of any API, a
    connection, or a trace dict / event list; default: treadle's default client)."""
    if isinstance(client, (dict, list)):
        data = client
    else:
        data = _trace.events(client if client is not None else api.default_client(), limit)
    return TraceView(data, window=window, title=title)


def _covered_us(rows):
    """The time the lanes were busy: per lane, the union of its bars (sorted by start). Not their
    sum: a task waiting on its children (seceded) leaves its lane to them, and the bars overlap."""
    ends = {}    # lane -> end of the covered stretch so far
    total = 0
    for start, end, lane in (r[:3] for r in rows):
        covered = ends.get(lane, start)
        if end > covered:
            total += end - max(start, covered)
            ends[lane] = end
    return total
