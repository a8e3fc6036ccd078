"""The task stream: the trace widget growing while a run goes on (as Dask's dashboard shows
one, but in the cell and with no other port), and the time window of "the last run".

``%treadle trace --live`` / ``treadle.show_trace(live=True)`` display a trace and hand a
:class:`LiveTrace` to the progress monitor, whose thread redraws it (update_display_data on the
kernel's own channel) until the server has no task left to run; the last update is the trace
of the whole run."""

import bisect
import time

from ..core import lineage
from ..core.lineage import FUNCTION_TYPES
from . import states as _states
from .gantt import EVENT_LIMIT, TraceView
from .trace_cancels import ran_from

LIVE_INTERVAL = 0.5         # seconds between two redraws of a live trace (more for big ones)
ENDED = ("finished", "failed", "released", "cancelled")   # task states of the server's status that are over
FAILURES_ALLOWED = 5        # ticks in a row that may fail (a busy server) before a live trace stops


def submissions_window(trace, submissions, margin_us=1000):
    """(start µs, end µs) of what the plans ``submissions`` (lineage.Submission) ran, from the
    trace's task events; from their submission to now when none ran yet."""
    ranges = sorted((s.first, s.end) for s in submissions)
    firsts = [a for a, _ in ranges]

    def ours(task):
        i = bisect.bisect_right(firsts, task) - 1
        return i >= 0 and task < ranges[i][1]
    start = end = None
    for e in trace.get("events", []):   # a task cancelled on its worker ends the run too
        if e.get("kind") in ("task", "cancelled") and ours(e.get("task", -1)):
            began = ran_from(e) if e["kind"] == "cancelled" else e["start_us"]   # a cancelled running task: its start
            start = began if start is None else min(start, began)
            end = e["end_us"] if end is None else max(end, e["end_us"])
    if start is None:
        return (min(s.time_us for s in submissions), time.time() * 1e6)
    return (start - margin_us, end + margin_us)


def run_start(trace, ranges, since_us, margin_us=1000):
    """When the run of the tasks ``ranges`` began: its submission (``since_us``: when the client
    heard back, by which time a short task may have run already) or its first task's start."""
    firsts = [a for a, _ in sorted(ranges or ())]
    ends = [b for _, b in sorted(ranges or ())]
    start = since_us
    for e in trace.get("events", []):
        if e.get("kind") == "task" and e["start_us"] < start:
            i = bisect.bisect_right(firsts, e.get("task", -1)) - 1
            if i >= 0 and e["task"] < ends[i]:
                start = e["start_us"] - margin_us
    return start


def unfinished(conn, ranges=None):
    """Tasks of the run that have not ended, or None when the server cannot say. ``ranges``:
    the run's task ids, [(first, end)], asked one by one (the server's word for each); without
    them, every task the server has (its status: any state but finished, failed, released, cancelled,
    so a state added later counts as going on)."""
    if ranges:
        asked = _states.ask(conn, [i for first, end in ranges for i in range(first, end)])
        return None if asked is None else sum(1 for s in asked if s not in _states.TERMINAL)
    try:
        states = conn.status().get("states", {})
    except Exception:
        return None
    return sum(n for state, n in states.items() if state not in ENDED)


def steps_left(conn, address, submissions):
    """Tasks of the plans ``submissions`` that have not ended, as the trace counts its bars:
    without the function objects the native API sends with its calls (not steps of the run);
    None when the server cannot say."""
    ids = []
    for s in submissions:
        kinds = lineage.plan_kinds(address, s.first)
        if kinds is None:   # not remembered: every task counts
            ids.extend(range(s.first, s.end))
            continue
        _, types, of_each = kinds
        ids.extend(s.first + k for k, (_, t) in enumerate(of_each) if types[t] not in FUNCTION_TYPES)
    asked = _states.ask(conn, ids)
    return None if asked is None else sum(1 for state in asked if state not in _states.TERMINAL)


class LiveTrace:
    """The task stream: redraws a displayed trace while a run goes on, from the progress
    monitor's thread (``tick``), through the cell's publisher (update_display_data on the
    kernel's own channel: no other port), at most every LIVE_INTERVAL seconds (longer when a
    redraw is big or slow); once every task of the run (``ranges``; without them, of the
    server) has ended, a last update draws the whole run and it stops. Bars appear as tasks end (the server records a task when it ends)."""

    def __init__(self, publisher, display_id, since_us, dom_id, title="trace of the run", limit=EVENT_LIMIT,
                 interval=LIVE_INTERVAL, timeout=24 * 3600, ranges=None):
        self.publisher = publisher
        self.display_id = display_id
        self.since_us = since_us
        self.dom_id = dom_id
        self.title = title
        self.limit = limit
        self.ranges = ranges      # the run's task ids [(first, end)]: it ends when they all have
        self.finished = False
        self.updates = 0
        self._interval = interval
        self._last = time.monotonic()
        self._deadline = time.monotonic() + timeout
        self._cost = 0.0          # seconds the last redraw took
        self._failures = 0        # ticks in a row that could not redraw
        self._size = 0            # bytes it sent

    def view(self, conn, live):
        data = conn.trace(self.limit)
        since = run_start(data, self.ranges, self.since_us)
        return TraceView(data, window=(since, None), live=live, dom_id=self.dom_id,
                         title=self.title + (" (live)" if live else ""))

    def tick(self, conn, now_whatever_the_interval=False):
        now = time.monotonic()
        interval = max(self._interval, self._size / 1_000_000.0, 4 * self._cost)
        if self.finished or (now - self._last < interval and not now_whatever_the_interval):
            return
        self._last = now
        try:
            left = unfinished(conn, self.ranges)   # asked before the events: the tasks ended by then are in them
            if left is None:
                raise RuntimeError("the server did not answer its status")
            done = left == 0 or now > self._deadline
            bundle = self.view(conn, live=not done).bundle()
        except Exception:   # a busy server, a timeout: the next tick asks again, a few times
            self._failures += 1
            if self._failures >= FAILURES_ALLOWED:
                self.finished = True
            return
        self._failures = 0
        self._size = sum(len(v) for v in bundle.values())
        self._cost = time.monotonic() - now
        self.publisher.display(bundle, display_id=self.display_id, update=True)
        self.updates += 1
        if done:
            self.finished = True

    def flush(self, conn):
        """Redraws now (the end of a cell: ProgressMonitor.sync): a run that ended during the
        cell gets its last picture before the cell's end, where nbclient still keeps it."""
        self.tick(conn, now_whatever_the_interval=True)


class RunEnd:
    """Redraws a static trace of the last run drawn while that run still went on (its head says
    how many tasks were still to run) once every task of the run has ended: the trace of the
    whole run, as the graph of a run ends final. Ticks from the progress monitor's thread."""

    def __init__(self, publisher, display_id, submissions, title="trace of the last run", limit=EVENT_LIMIT,
                 interval=LIVE_INTERVAL, timeout=24 * 3600):
        self.publisher = publisher
        self.display_id = display_id
        self.submissions = submissions
        self.ranges = [(s.first, s.end) for s in submissions]
        self.title = title
        self.limit = limit
        self.finished = False
        self._interval = interval
        self._last = time.monotonic()
        self._deadline = time.monotonic() + timeout
        self._failures = 0

    def tick(self, conn, now_whatever_the_interval=False):
        now = time.monotonic()
        if self.finished or (now - self._last < self._interval and not now_whatever_the_interval):
            return
        self._last = now
        if now > self._deadline:   # a run that never ends: the picture keeps saying what was left
            self.finished = True
            return
        try:
            left = unfinished(conn, self.ranges)   # asked before the events: the tasks ended by then are in them
            if left is None:
                raise RuntimeError("the server did not answer its states")
            if left:
                self._failures = 0
                return
            data = conn.trace(self.limit)
            bundle = TraceView(data, window=submissions_window(data, self.submissions), title=self.title,
                               dom_id=self.display_id).bundle()
        except Exception:   # a busy server: the next tick asks again, a few times
            self._failures += 1
            if self._failures >= FAILURES_ALLOWED:
                self.finished = True
            return
        self.publisher.display(bundle, display_id=self.display_id, update=True)
        self.finished = True

    def flush(self, conn):
        """Now (the end of a cell): a run that ended during the cell is drawn whole before its end."""
        self.tick(conn, now_whatever_the_interval=True)
