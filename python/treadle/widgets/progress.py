"""Live progress of a submission: a bar with done / running / failed counts, rate and ETA,
updated in place (a display with an id, then update_display_data) at most every ``interval()``
seconds; one line of summary once everything ended. What counts the tasks is not here: the
notebook's progress monitor (treadle.notebook.progress_monitor) calls ``add``, ``set_running``
and ``update`` from its thread.
"""

import html
import itertools
import os
import threading
import time

from .bundle import attrs, mime_bundle, style

_STATE_COLORS = {None: "#4e79a7", "done": "#59a14f", "failed": "#e15759", "cancelled": "#9aa0a6",
                 "released": "#9aa0a6"}


GROUP_ROW = 16             # px per group bar in the picture
DEFAULT_INTERVAL = 0.25   # seconds between two updates, unless the line is given its own
GROUP_BARS_ABOVE = 100     # tasks from which a line with several label groups shows a bar per group
MAX_GROUP_BARS = 12        # bars at most (the biggest groups; the rest are "other")


def _duration(seconds):
    if seconds < 60:
        return "{:.0f} s".format(seconds) if seconds >= 10 else "{:.1f} s".format(seconds)
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return "{}:{:02d} min".format(minutes, seconds)
    hours, minutes = divmod(minutes, 60)
    return "{}:{:02d} h".format(hours, minutes)


class Progress:
    """A live progress line for futures: "12/100 done, 2 running, 4 queued, 0 failed, 40 tasks/s,
    ETA 2 s" (running: executing now; queued: on a worker, waiting for a cpu, an executor or
    inputs; both from the scheduler's states), and ", 5 cancelled" once the scheduler says
    tasks were cancelled before they finished.

    Shown in the cell that made it (a display with an id); updated, at most every
    ``interval()`` seconds (the notebook's progress_interval option), by the progress monitor's
    thread as the server says tasks ended, also after the cell finished."""

    _ids = itertools.count(1)

    def __init__(self, title, total, done=0, publisher=None, interval=None, cancels_end_it=True):
        self.title = title
        self.interval = interval or (lambda: DEFAULT_INTERVAL)
        self.total = total
        self.done = done
        self.failed = 0
        self._failed_ids = set()
        self.cancelled_tasks = 0   # cancelled before they finished, by the scheduler's states
        self._cancelled_ids = set()
        self.followed = False      # a ProgressMonitor counts its tasks
        self.running = 0           # executing now, by the scheduler's states
        self.queued = 0            # on a worker, waiting for a cpu, an executor or inputs
        self.state = None          # None while running; "done", "failed", "cancelled", "released"
        self.started = time.monotonic()
        self.ended_at = None
        self.publisher = publisher
        self.display_id = "treadle-progress-{}-{}".format(os.getpid(), next(self._ids))
        self._lock = threading.Lock()
        self._last_shown = time.monotonic()
        self._displayed = False   # no update goes out before the line's display (a monitor may follow it first)
        self._dirty = False
        self._shown_state = "unshown"
        self._echo_final = False
        self._cancelling = False   # its tasks are being cancelled: what the cancel releases ends it "cancelled"
        # Do its tasks' cancels end it "cancelled" (a wait: a cancel ends the wait)? A job's line
        # says no: the cell's code may cancel some of its own futures, and the job goes on.
        self._cancels_end_it = cancels_end_it
        self._terminal_width = 0     # length of the line a terminal shows now (0: none yet)
        self._terminal_done = False
        self.groups = []             # [[name, total, done, failed, cancelled]]: a bar per label group
        self._group_of = {}          # task id -> index in groups, until it ended

    def set_groups(self, group_of):
        """``group_of``: {task id: label group} of every task counted: with at least
        GROUP_BARS_ABOVE tasks in two groups or more, the line shows a bar per group (the
        MAX_GROUP_BARS biggest; the others together as "other")."""
        sizes = {}
        for name in group_of.values():
            sizes[name] = sizes.get(name, 0) + 1
        if len(group_of) < GROUP_BARS_ABOVE or len(sizes) < 2:
            return
        ranked = sorted(sizes, key=lambda n: (-sizes[n], n))
        kept = ranked if len(ranked) <= MAX_GROUP_BARS else ranked[:MAX_GROUP_BARS - 1]
        index = {name: k for k, name in enumerate(kept)}
        with self._lock:
            self.groups = [[name or "(no label)", sizes[name], 0, 0, 0] for name in kept]
            if len(kept) < len(ranked):
                self.groups.append(["other", sum(sizes[n] for n in ranked[len(kept):]), 0, 0, 0])
            other = len(kept)
            self._group_of = {t: index.get(name, other) for t, name in group_of.items()}

    @property
    def finished(self):
        return self.state is not None

    def show(self):
        """Displays the line in the running cell (main thread)."""
        try:
            from IPython.display import display  # deliberate: IPython only where a line is shown
        except Exception:
            return
        with self._lock:   # a monitor's update waits, and follows the display
            # Marked displayed first: an interrupt landing just after the display went out must
            # not leave the line deaf to its updates (an update of a line never shown is ignored).
            self._displayed = True
            try:
                display(self.bundle(), raw=True, display_id=self.display_id)
            except Exception:
                self._displayed = False
                return
            self._shown_state = self.state
            self._last_shown = time.monotonic()

    def move_to_end(self):
        """Shows the line again at the end of the cell's output, leaving its old place empty
        (main thread, during the cell: a job's line goes below what its tasks printed)."""
        with self._lock:
            old = self.display_id
            self.display_id = "treadle-progress-{}-{}".format(os.getpid(), next(self._ids))
            self._displayed = False
        empty = {"text/plain": ""}
        try:
            if self.publisher is not None:
                self.publisher.display(empty, display_id=old, update=True)
            else:
                from IPython.display import update_display  # deliberate: IPython only where a line is shown
                update_display(empty, raw=True, display_id=old)
        except Exception:
            pass
        self.show()

    def publish(self):
        """Displays the line through its publisher (any thread: a line that appears while the
        cell waits is shown from a timer's thread)."""
        with self._lock:
            self._displayed = True   # first, as in show()
            try:
                self.publisher.display(self.bundle(), display_id=self.display_id)
            except Exception:
                self._displayed = False
                raise
            self._shown_state = self.state
            self._last_shown = time.monotonic()

    # -- changes (any thread)

    def add(self, finished=0, failed=(), finished_ids=(), final=False, cancelled=()):
        """``finished`` more tasks ended well (``finished_ids``, when known, count in their
        groups' bars); the tasks ``failed`` (ids) failed, the tasks ``cancelled`` (ids) were
        cancelled before they finished. ``final``: the scheduler's last word on a line that
        ended already (the cell may end it first). Returns False when the line took none of it
        (it ended meanwhile, and this is not the final word): the caller counts them later."""
        with self._lock:
            if self.state is not None and not (final and self.state in ("done", "failed", "cancelled")):
                return False
            self.done = min(self.total, self.done + finished)
            for k in (self._group_of.pop(t, None) for t in finished_ids):
                if k is not None:
                    self.groups[k][2] += 1
            for k in (self._group_of.pop(t, None) for t in failed if t not in self._failed_ids):
                if k is not None:
                    self.groups[k][3] += 1
            self._failed_ids.update(failed)
            self.failed = min(self.total - self.done, len(self._failed_ids))
            for k in (self._group_of.pop(t, None) for t in cancelled if t not in self._cancelled_ids):
                if k is not None:
                    self.groups[k][4] += 1
            self._cancelled_ids.update(cancelled)
            self.cancelled_tasks = min(self.total - self.done - self.failed, len(self._cancelled_ids))
            self._dirty = True
            if self.state is None and self.done + self.failed + self.cancelled_tasks >= self.total:
                # A line whose cell cancels its tasks ends "cancelled" also when one of them had
                # failed: the monitor may count the cancel before the cell's own end says so.
                # A job's line whose code cancelled some of its futures ends as the rest did.
                cancelled = self.cancelled_tasks and (self._cancelling or (self._cancels_end_it and not self.failed))
                self._end("cancelled" if cancelled else "failed" if self.failed else "done")
            return True

    def note_failed(self, task):
        """The waiting cell learnt that ``task`` failed (the monitor may hear it later: ids
        are counted once). Without a monitor following, the line ends here."""
        self.add(0, [task] if task is not None else [])
        if not self.followed:
            self.complete(failed=True)

    def set_running(self, running, queued=0):
        """How many of its tasks execute now, and how many wait queued on a worker."""
        with self._lock:
            if self.state is not None:
                return
            left = self.total - self.done - self.failed - self.cancelled_tasks
            running = max(0, min(running, left))
            queued = max(0, min(queued, left - running))
            if (running, queued) != (self.running, self.queued):
                self.running, self.queued = running, queued
                self._dirty = True

    def complete(self, failed=False):
        """Everything ended (the waiting cell knows before the monitor does)."""
        with self._lock:
            if self.state is None:
                if not failed:   # the cancelled ones (before the wait) stay counted so
                    self.done, self.failed = self.total - self.cancelled_tasks, 0
                self._end("failed" if failed or self.failed else "done")
        self.update(force=True)

    def cancelled(self):
        with self._lock:
            if self.state is None:
                self._end("cancelled")
        self.update(force=True)

    def cancelling(self):
        """The cell cancels its tasks: the futures it releases meanwhile end the line
        "cancelled", not "released" (the monitor may see them released before the cancel ends)."""
        with self._lock:
            self._cancelling = True

    def released(self):
        with self._lock:
            if self.state is None:
                self._end("cancelled" if self._cancelling else "released")
        self.update(force=True)

    def _end(self, state):
        if state == "done":   # every task ended well or was cancelled: so did every group's
            for group in self.groups:
                group[2:] = [group[1] - group[4], 0, group[4]]
            self._group_of.clear()   # counted: a late word from the scheduler adds nothing
        self.state = state
        self.running = self.queued = 0
        self.ended_at = time.monotonic()
        self._dirty = True
        self._echo_final = self.followed   # the monitor sends the final line last (echo_final)

    def update(self, force=False):
        """Publishes the line if it changed and the interval passed (or ``force``)."""
        with self._lock:
            now = time.monotonic()
            if not self._displayed or (not self._dirty and self._shown_state == self.state):
                return   # not displayed yet: its display will show it as it is then
            if not force and self.state is None and now - self._last_shown < self.interval():
                return
            self._dirty = False
            self._last_shown = now
            self._shown_state = self.state
            bundle = self.bundle()
            terminal = self._terminal_text()
            # Published under the lock: a running line the monitor built must not arrive after
            # the final line the cell publishes (the monitor updates it twice a second).
            if self.publisher is not None:
                try:
                    self.publisher.display(bundle, display_id=self.display_id, update=True)
                    if terminal and hasattr(self.publisher, "terminal"):
                        self.publisher.terminal(terminal)
                except Exception:
                    pass

    def _terminal_text(self):
        """The line for terminals, which ignore updates of displays: rewritten in place with
        a carriage return, ended with a newline once (the summary)."""
        if self._terminal_done:
            return None
        text = self.text()
        out = "\r" + text.ljust(self._terminal_width)
        self._terminal_width = len(text)
        if self.state is not None:
            self._terminal_done = True
            out += "\n"
        return out

    def echo_final(self):
        """Sends the final line once more from the monitor's thread: what a thread publishes
        may arrive after what the cell published, and must not leave an older line last."""
        with self._lock:
            if not self._echo_final or not self._displayed:
                return
            self._echo_final = False
            bundle = self.bundle()
        if self.publisher is not None:
            try:
                self.publisher.display(bundle, display_id=self.display_id, update=True)
            except Exception:
                pass

    # -- what it shows

    def _elapsed(self):
        end = self.ended_at if self.ended_at is not None else time.monotonic()
        return max(end - self.started, 1e-9)

    def eta(self):
        """Seconds left at the rate so far, or None (nothing ended yet, or finished)."""
        ended = self.done + self.failed
        if self.state is not None or ended <= 0:
            return None
        return max(0, self.total - ended - self.cancelled_tasks) * self._elapsed() / ended

    def text(self):
        elapsed = self._elapsed()
        rate = self.done / elapsed
        head = "{}: {}/{} done".format(self.title, self.done, self.total)
        cancelled = ", {} cancelled".format(self.cancelled_tasks) if self.cancelled_tasks else ""
        if self.state is None:
            eta = self.eta()
            queued = ", {} queued".format(self.queued) if self.queued else ""
            return "{}, {} running{}, {} failed{}, {:.0f} tasks/s{}".format(
                head, self.running, queued, self.failed, cancelled, rate,
                ", ETA " + _duration(eta) if eta is not None else "")
        tail = {"done": "", "failed": "", "cancelled": " (cancelled)", "released": " (futures released)"}[self.state]
        return "{}, {} failed{} in {:.2f} s ({:.0f} tasks/s){}".format(head, self.failed, cancelled, elapsed, rate,
                                                                     tail)

    def bundle(self):
        text = self.text()
        state = self.state or "running"
        color = _STATE_COLORS[self.state]
        value = self.done + self.failed
        total = max(self.total, 1)
        root = attrs(class_="treadle-progress", data_state=state, data_done=self.done, data_failed=self.failed,
                     data_cancelled=self.cancelled_tasks, data_running=self.running, data_queued=self.queued,
                     data_total=self.total)
        # accent-color and the inline width keep the bar readable where the <style> is dropped.
        html_text = ('<div{}><progress value="{}" max="{}" style="accent-color:{}"></progress> '
                     '<span class="treadle-progress-text">{}</span></div>{}{}').format(
            root, value, total, color, html.escape(text), self._groups_html(), style())
        width = 320
        done_w = round(width * self.done / total)
        failed_w = round(width * self.failed / total)
        cancelled_w = round(width * self.cancelled_tasks / total)
        height = 34 + GROUP_ROW * len(self.groups)
        svg = ('<svg class="treadle-progress-svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}">'
               '<rect x="0" y="0" width="{w}" height="10" rx="3" fill="#e8e8e8"/>'
               '<rect x="0" y="0" width="{d}" height="10" rx="3" fill="{c}"/>'
               '<rect x="{d}" y="0" width="{f}" height="10" fill="#e15759"/>'
               '<rect x="{df}" y="0" width="{x}" height="10" fill="{xc}" fill-opacity="0.45"/>'
               '<text x="0" y="26" font-family="sans-serif" font-size="11" fill="#333">{t}</text>{g}</svg>').format(
            w=width, h=height, d=done_w, f=failed_w, df=done_w + failed_w, x=cancelled_w,
            xc=_STATE_COLORS["cancelled"], c=color, t=html.escape(text), g=self._groups_svg(34))
        return mime_bundle(text, html_text, svg)

    # -- a bar per label group (big submissions: Dask's progress() shows one per function)

    def _group_text(self, group):
        name, total, done, failed, cancelled = group
        return "{}/{}{}{}".format(done, total, ", {} failed".format(failed) if failed else "",
                                  ", {} cancelled".format(cancelled) if cancelled else "")

    def _groups_html(self):
        if not self.groups:
            return ""
        rows = []
        for group in self.groups:
            name, total, done, failed, cancelled = group
            color = "#e15759" if failed else _STATE_COLORS["done" if done >= total else None]
            rows.append('<div{}><span class="treadle-progress-group-name">{}</span> <progress value="{}" max="{}" '
                        'style="accent-color:{}"></progress> <span class="treadle-progress-group-text">{}</span>'
                        '</div>'.format(attrs(class_="treadle-progress-group", data_group=name, data_total=total,
                                              data_done=done, data_failed=failed, data_cancelled=cancelled),
                                        html.escape(name), done + failed, max(total, 1), color,
                                        html.escape(self._group_text(group))))
        return '<div class="treadle-progress-groups">{}</div>'.format("".join(rows))

    def _groups_svg(self, top):
        out = []
        for k, group in enumerate(self.groups):
            name, total, done, failed, _ = group
            y = top + k * GROUP_ROW
            w = 160
            out.append('<text x="0" y="{}" font-family="sans-serif" font-size="11" fill="#333">{}</text>'
                       '<rect x="120" y="{}" width="{}" height="8" rx="2" fill="#e8e8e8"/>'
                       '<rect x="120" y="{}" width="{}" height="8" rx="2" fill="{}"/>'
                       '<rect x="{}" y="{}" width="{}" height="8" fill="#e15759"/>'
                       '<text x="{}" y="{}" font-family="sans-serif" font-size="11" fill="#333">{}</text>'.format(
                           y + 10, html.escape(name[:18]), y + 2, w, y + 2, round(w * done / max(total, 1)),
                           _STATE_COLORS["done" if done >= total else None], 120 + round(w * done / max(total, 1)),
                           y + 2, round(w * failed / max(total, 1)), 120 + w + 6, y + 10,
                           html.escape(self._group_text(group))))
        return "".join(out)
