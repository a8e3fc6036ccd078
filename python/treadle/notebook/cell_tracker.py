"""Which cell submitted which task: what tasks print goes to that cell (also after it finished),
an interrupted cell's tasks are cancelled (wherever the interrupt lands: cell_interrupts), a cell
waiting on futures shows its progress, and ``%treadle stop`` finds everything still running."""

import bisect
import collections
import contextlib
import itertools
import sys
import threading
import time
import weakref

from ..core import hooks
from ..core.client import Cancelled
from ..core.output_lines import OutputLines
from .cell_interrupts import CellInterrupts
from .cell_tracebacks import CellTracebacks
from .cell_publisher import cell_publisher, send_late_updates
from .line_displays import show_line
from .options import options
from .wait_progress import WaitProgress


class _Cell:
    """What one cell submitted: weak references to its futures (dropping them still releases
    them), its progress lines, and how to publish to it."""

    __slots__ = ("seq", "publisher", "native", "loom", "progress", "printed", "__weakref__")

    def __init__(self, seq, publisher):
        self.seq = seq
        self.publisher = publisher
        self.printed = 0     # pieces of task output sent to the cell
        self.native = []     # treadle.Future (native API)
        self.loom = []       # HyperLoom futures of clients that are not a treadle.Client's
        self.progress = []   # Progress lines shown in this cell

    def alive(self):
        return any(r() is not None for r in itertools.chain(self.native, self.loom)) or any(
            not p.finished for p in self.progress)


class _Intervals:
    """Task ids of one client connection -> the cell that submitted them (ids only grow)."""

    __slots__ = ("starts", "ends", "cells", "high")

    def __init__(self):
        self.starts, self.ends, self.cells = [], [], []
        self.high = -1   # the highest task id ever added (pruning keeps it)

    def beyond(self, task):
        """True for a task newer than every submission recorded: its submit may still be on
        its way to being recorded (the task can print before the client's hook runs)."""
        return task > self.high

    def add(self, start, end, cell):
        self.high = max(self.high, end)
        if self.cells and self.cells[-1] is cell and self.ends[-1] < start:
            self.ends[-1] = end  # nothing of another cell lies between (ids only grow)
            return
        i = bisect.bisect_right(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)
        self.cells.insert(i, cell)

    def find(self, task):
        i = bisect.bisect_right(self.starts, task) - 1
        if i >= 0 and task <= self.ends[i]:
            return self.cells[i]
        # A task made on the server (a redirection's plan, an expanded dslice): the cell that
        # submitted last on this connection is the best guess.
        return self.cells[-1] if self.cells else None

    def keep_only(self, alive):
        keep = [i for i, c in enumerate(self.cells) if c in alive]
        self.starts = [self.starts[i] for i in keep]
        self.ends = [self.ends[i] for i in keep]
        self.cells = [self.cells[i] for i in keep]


class _Router:
    """The output handler of a client connection: hands what tasks print to the tracker."""

    __slots__ = ("tracker", "client")

    def __init__(self, tracker, client):
        self.tracker = tracker
        self.client = weakref.ref(client)

    def __call__(self, items):
        self.tracker.route(self.client(), items)


class CellTracker(hooks.ClientListener):
    """Knows which cell submitted which task: routes task output there (also after the cell
    finished), cancels a cell's tasks when it is interrupted, and everything for %treadle stop.

    It listens to the clients (``treadle.core.hooks``: the clients of every API, and the
    native API's calls, their sending and the waits on them) and to IPython's pre_run_cell /
    post_run_cell events. ``session``: the kernel's Session (its progress monitors).
    """

    _PARTIAL_AGE = 0.5     # seconds an unfinished line waits for its end before it is shown
    _PARK_AGE = 0.3        # seconds output of a task no recorded submission covers waits for one
    _POLL = 0.05           # seconds between two looks for output of tasks whose cell is idle
    _LOSSES_EVERY = 0.5    # seconds between two looks for lost workers while a cell submits or waits

    def __init__(self, shell, session=None):
        self.shell = shell
        self.session = session
        self._lock = threading.RLock()
        self._seq = 0
        self._running = None          # seq of the cell running now
        self._current = None          # its _Cell, made at its first submission
        self._last = None             # the _Cell that submitted last (from the main thread)
        self._threads = None          # the _Cell of what other threads submit in the latest cell
        self._latest_publisher = None  # the latest cell's publisher, made as it started
        self._cells = []              # _Cells with futures that may still be alive
        self._intervals = weakref.WeakKeyDictionary()   # core client -> _Intervals
        self._pending_cell = {}       # id(native future not sent yet) -> _Cell
        self._lines = OutputLines()   # what tasks print, as lines marked with their task
        self._parked = []             # [(client, time, items)]: output of tasks not recorded yet
        self._polled = weakref.WeakSet()
        self._poller = None
        self._stopping = threading.Event()
        self._xtreadle = "_treadle_kernel" in sys.modules
        self._last_prune = time.monotonic()
        self._followed_waits = 0      # > 0: the cell's waits are followed by a line of their own
        self._interrupt_handled = None  # seq of the cell whose interrupt cancelled its tasks
        self._cell_started_us = 0     # when the running cell started (wall clock, µs)
        self._loss_cell = None        # the running cell, once it submitted or waited: told of lost workers
        self._loss_due = 0.0          # when the poller looks for lost workers next
        self._loss_lock = threading.Lock()   # one look at a time: the cell's last one follows the poller's
        self._interrupts = CellInterrupts(shell, self._interrupt_may_cancel, self._cancel_interrupted_cell)
        self._tracebacks = CellTracebacks(shell)   # inside the interrupts' guard, which wraps it

    # -- installation

    def install(self):
        events = self.shell.events
        events.register("pre_run_cell", self._pre_run_cell)
        events.register("post_run_cell", self._post_run_cell)
        self._tracebacks.install()
        self._interrupts.install()
        hooks.add(self)

    def close(self):
        self._stopping.set()
        hooks.remove(self)
        try:
            self.shell.events.unregister("pre_run_cell", self._pre_run_cell)
            self.shell.events.unregister("post_run_cell", self._post_run_cell)
            self._interrupts.close()
            self._tracebacks.close()
        except Exception:
            pass
        poller = self._poller
        if poller is not None and poller is not threading.current_thread():
            poller.join(2.0)

    def client_created(self, client):
        """A client was made: what its tasks print goes to the cells (unless it was given an
        output handler of its own)."""
        if client.prints_output:
            client.connection.set_output_handler(_Router(self, client))
            self._polled.add(client)
            self._start_poller()

    # -- cells

    def _pre_run_cell(self, info=None):
        # Made here, on the main thread (the kernel's parent is read safely only there), for
        # what other threads submit from now on: they publish to this cell (current()).
        self._latest_publisher = self._publisher()
        self._seq += 1
        self._cell_started_us = int(time.time() * 1e6)
        self._running = self._seq

    def _post_run_cell(self, result=None):
        # What the cell's tasks printed before the results it waited for is in this process:
        # into the cell's output before it ends (else the poller may send it after the cell's
        # end, which nbclient and execute_interactive never read).
        self.take_output()
        self._route_parked(older_than=0)
        # A line its task keeps open is shown (a display) before the cell ends: what the task
        # prints later updates it there, also in a notebook nbclient saves.
        self._flush_partials(0)
        # A worker lost since the poller's last look is told in this cell, before its end.
        cell, self._loss_cell = self._loss_cell, None
        if cell is not None and cell.seq == self._running:
            self._tell_losses(cell)
        self._interrupts.cell_ended(result)
        self._running = None
        # What ended during the cell is published now, and what other threads published is
        # sent again from here: either may otherwise miss the cell's end (nbclient keeps only
        # what comes before it).
        for monitor in self.session.monitors() if self.session is not None else ():
            monitor.sync()
        send_late_updates()

    def _interrupted_cell(self):
        """The running cell, if it submitted tasks an interrupt would cancel (and has not)."""
        running = self._running
        cell = self._current if self._current is not None and self._current.seq == running else None
        if cell is None or not options.cancel_on_interrupt or self._interrupt_handled == running:
            return None
        return cell

    def _interrupt_may_cancel(self):
        return self._interrupted_cell() is not None

    def _cancel_interrupted_cell(self):
        """The running cell ends interrupted: its tasks are cancelled (once)."""
        cell = self._interrupted_cell()
        if cell is None:
            return
        self._interrupt_handled = cell.seq
        count = self.cancel([cell]).cancelled
        if count:
            print("treadle: cancelled {} task{} of this cell (%treadle config cancel_on_interrupt=off "
                  "keeps them running)".format(count, _s(count)), file=sys.stderr)

    def cell_seq(self):
        """The number of the cell running now, else of the last cell that ran."""
        return self._running if self._running is not None else self._seq

    def current(self):
        """The _Cell that what is submitted now belongs to: the running cell on the main
        thread. From another thread (one the user started), IPython's rule for a thread's own
        output (ipykernel 6.17): the cell running now, else the last cell that ran, where its
        print() goes too; a _Cell apart from that cell's own, which the cell's interrupt (it
        stops the main thread only) does not cancel. None before any cell ran."""
        if threading.current_thread() is not threading.main_thread():
            return self._thread_cell()
        if self._running is not None:
            cell = self._current
            if cell is None or cell.seq != self._running:
                cell = _Cell(self._running, self._publisher())
                with self._lock:
                    self._current = cell
                    self._cells.append(cell)
                self._watch_losses_in(cell)
            self._last = cell
            return cell
        return self._last

    def _thread_cell(self):
        seq = self.cell_seq()
        if seq == 0:
            return self._last
        with self._lock:
            cell = self._threads
            if cell is None or cell.seq != seq:
                # That cell's publisher reaches it, also after its end.
                cell = self._threads = _Cell(seq, self._latest_publisher)
                self._cells.append(cell)
            return cell

    # -- lost workers (lost_worker_notices): told in the cell that submits or waits

    def _watch_losses_in(self, cell):
        """The running cell submits or waits: from now until its end, the poller tells it of
        the workers the server loses (and first of those lost since the user was last told)."""
        if self.session is None:
            return
        self._loss_due = 0.0
        self._loss_cell = cell
        self._start_poller()

    def _watch_losses(self):
        """The poller's look, at most every _LOSSES_EVERY seconds while a cell is watched."""
        cell = self._loss_cell
        if cell is None or cell.seq != self._running or time.monotonic() < self._loss_due:
            return
        self._loss_due = time.monotonic() + self._LOSSES_EVERY
        self._tell_losses(cell)

    def _tell_losses(self, cell):
        with self._loss_lock:
            if cell.seq != self._running:
                return
            try:
                lines = self.session.lost_worker_lines(live_since_us=self._cell_started_us)
            except Exception:   # never in the way of the cell
                return
            if lines:
                self._emit(cell, "stderr", "".join(line + "\n" for line in lines))

    def _publisher(self):
        try:
            return cell_publisher(self.shell)
        except Exception:
            return None

    # -- submissions (the clients' hooks)

    def native_calling(self, client):
        """Before a native call: the cell it belongs to."""
        return self.current()

    def native_called(self, cell, future):
        if cell is None:
            return
        cell.native.append(weakref.ref(future))
        if future.handle is None:
            self._pending_cell[id(future)] = cell

    def native_flushed(self, client, pending):
        """Native futures were sent: their task ids now map to the cells that made them."""
        fallback = self.current()
        with self._lock:
            intervals = self._intervals.get(client.core)
            if intervals is None:
                intervals = self._intervals[client.core] = _Intervals()
            run = None
            for f in pending:
                cell = self._pending_cell.pop(id(f), None) or fallback
                handle = f.handle
                if handle is None or cell is None:
                    continue
                task = handle.task_id
                if run is not None and run[2] is cell:
                    run[1] = task  # ids between belong to this plan (its functions)
                    continue
                if run is not None:
                    intervals.add(*run)
                run = [task, task, cell]
            if run is not None:
                intervals.add(*run)
            self._route_parked()   # under the lock: before any newer output of these tasks

    def submit_deferred(self, client):
        """A call the client's flush timer will send (IPython's tasks): the cell running now,
        which plan_submitted files it under when it is sent (a later cell may run by then)."""
        return self.current()

    def plan_submitted(self, client, base, plan, tasks, futures):
        """A client submitted a plan: HyperLoom's, IPython's, Rain's, SCOOP's, or tasks submitted
        through a native client's connection (%%treadle submit's HyperLoom tasks). The native
        API's own calls are recorded by native_flushed()."""
        if hooks.sending_native_calls():
            return
        cell = hooks.deferred_token(self) or self.current()
        if cell is None:
            return
        with self._lock:
            if plan.count > 0:
                intervals = self._intervals.get(client)
                if intervals is None:
                    intervals = self._intervals[client] = _Intervals()
                intervals.add(base, base + plan.count - 1, cell)
            # Not the values a client sends for its own calls (a pickled function): the user's
            # tasks only, which a cancel cancels and counts.
            cell.loom.extend(weakref.ref(f) for f, t in zip(futures, tasks) if not t.internal)
            self._route_parked()

    @contextlib.contextmanager
    def followed_waits(self):
        """Waits inside show no line of their own: the caller's line follows them (one line
        per job: %%treadle submit)."""
        self._followed_waits += 1
        try:
            yield
        finally:
            self._followed_waits -= 1

    def waiting(self, client, futures):
        """A cell blocks on futures (native, or Rain's): a progress line appears if the wait lasts."""
        if threading.current_thread() is not threading.main_thread() or self._running is None or \
                self._followed_waits:
            return None
        cell = self.current()
        if cell is None or cell.publisher is None or self.session is None:
            return None
        return WaitProgress(cell, futures, self.session)

    # -- output

    def route(self, client, items, park=True):
        """What tasks printed: to the cells that submitted them, each line marked with its task.
        Output of a task newer than every recorded submission waits (parked) until its submit
        is recorded, at most _PARK_AGE s (a task the server made: the last cell's guess)."""
        with self._lock:
            intervals = self._intervals.get(client) if client is not None else None
            if park and intervals is not None:
                later = [item for item in items if intervals.beyond(item[0])]
                if later:
                    self._parked.append((client, time.monotonic(), later))
                    items = [item for item in items if not intervals.beyond(item[0])]
            tag_of = intervals.find if intervals is not None else (lambda task: self._last)
            # Sent under the lock, in order: an open line's update must not overtake its display.
            self._send(self._lines.add(items, source=id(client), tag_of=tag_of))

    def _send(self, lines):
        """Sends (cell, stream, text) items in order; a stream's neighbours go in one message."""
        run = None
        for cell, name, text in lines:
            if name == "line":
                if run is not None:
                    self._emit(*run)
                    run = None
                self._show_line(cell, text)
            elif run is not None and run[0] is cell and run[1] == name:
                run[2] += text
            else:
                if run is not None:
                    self._emit(*run)
                run = [cell, name, text]
        if run is not None:
            self._emit(*run)

    def _route_parked(self, older_than=None):
        """Routes parked output whose submission is recorded now, and (``older_than`` s given)
        what waited that long, with the best guess."""
        with self._lock:
            if not self._parked:
                return
            now = time.monotonic()
            parked, self._parked = self._parked, []
            due = []
            for client, since, items in parked:
                intervals = self._intervals.get(client)
                aged = older_than is not None and now - since >= older_than
                if intervals is None or aged or not any(intervals.beyond(item[0]) for item in items):
                    due.append((client, items))
                else:
                    self._parked.append((client, since, items))
            # Routed in the order they came, under the lock (an RLock), so no newer output of
            # the same task overtakes them.
            for client, items in due:
                self.route(client, items, park=False)

    def _flush_partials(self, older_than):
        with self._lock:
            self._send(self._lines.flush(older_than))

    def take_output(self):
        """Hands what tasks printed and this process received to the cells now: also what the
        poller thread is routing at this moment (polling waits for it, under the connection's
        lock)."""
        for client in list(self._polled):
            try:
                client.connection.poll_output()
            except Exception:
                pass

    def flush_output(self):
        """Sends what tasks printed so far to the cells now, unfinished lines too (main thread:
        a job ended, and its line goes below what it printed)."""
        self.take_output()
        self._flush_partials(0)

    def _show_line(self, cell, line):
        """A task's open line: a display of its own in its cell (line_displays); where none
        can be shown, its last text as a line of the stream."""
        publisher = cell.publisher if cell is not None else None
        running = cell is not None and cell.seq == self._running and \
            threading.current_thread() is threading.main_thread()
        try:
            if show_line(line, publisher, running):
                if line.first:
                    cell.printed += 1
                return
        except Exception:
            pass
        if line.ended:
            self._emit(cell, line.stream, line.text + "\n")

    def _emit(self, cell, stream, text):
        if not text:
            return
        if cell is not None:
            cell.printed += 1
        on_main = threading.current_thread() is threading.main_thread()
        if cell is None or cell.publisher is None or (cell.seq == self._running and (self._xtreadle or on_main)):
            # The running cell: through the kernel's own stream, in order with what it prints
            # (xtreadle's stream takes writes from any thread; ipykernel's, only the main one's).
            target = sys.stderr if stream == "stderr" else sys.stdout
            try:
                target.write(text)
                target.flush()
            except Exception:
                pass
            return
        try:
            cell.publisher.publish("stream", {"name": stream, "text": text})
        except Exception:
            pass

    def _start_poller(self):
        with self._lock:
            if self._poller is not None or self._stopping.is_set():
                return
            self._poller = threading.Thread(target=self._poll, name="treadle-output", daemon=True)
            self._poller.start()

    def _poll(self):
        # Tasks go on printing after their cell finished, when nothing else asks the connection.
        while not self._stopping.wait(self._POLL):
            for client in list(self._polled):
                try:
                    client.connection.poll_output()
                except Exception:
                    pass
            try:
                self._watch_losses()
                self._route_parked(self._PARK_AGE)
                self._flush_partials(self._PARTIAL_AGE)
                if time.monotonic() - self._last_prune > 5:
                    self._prune()
            except Exception:
                pass

    def _prune(self):
        self._last_prune = time.monotonic()
        with self._lock:
            self._cells = [c for c in self._cells if c.alive() or c is self._current or c is self._last or
                           c is self._threads]
            alive = set(self._cells)
            for intervals in list(self._intervals.values()):
                intervals.keep_only(alive)

    # -- cancelling

    def cells(self):
        with self._lock:
            return list(self._cells)

    def cancel(self, cells=None, reason="by the interrupt of the cell that submitted it"):
        """Cancels the futures of ``cells`` (every cell's by default) whose tasks have not
        ended: the server cancels them (a running Python task's executor is replaced), and
        their futures say so in every API, ``reason`` in the error their waits raise.
        Returns Cancelled(tasks the server cancelled, futures that had ended and keep their
        results), as the server counted them."""
        # Calls a client holds back for its flush timer (IPython's tc.run) are sent first, so
        # they are filed under their cells and cancelled with them, not sent after the cancel.
        hooks.send_deferred()
        cells = self.cells() if cells is None else list(cells)
        # Those a client holds until an engine frees (IPython's routed tasks) end as cancelled:
        # they would otherwise be sent after the cancel, and run.
        hooks.cancel_deferred(self, cells, reason)
        for cell in cells:
            for p in list(cell.progress):
                p.cancelling()
        try:
            return self._cancel(cells, reason)
        finally:
            # After the cancel: the lines' last count reads their tasks "cancelled" then.
            for cell in cells:
                for p in list(cell.progress):
                    p.cancelled()

    def _cancel(self, cells, reason):
        """Cancels cell by cell: the futures that had ended count only in the cells that had
        something to cancel (the run being stopped), not the results of every earlier cell."""
        cancelled = ended = failed = 0
        for cell in cells:
            report = self._cancel_cell(cell, reason)
            cancelled += report.cancelled
            if report.cancelled:
                ended += report.ended
                failed += report.failed
        return Cancelled(cancelled, ended, failed)

    def _cancel_cell(self, cell, reason):
        native = collections.OrderedDict()
        loom = collections.OrderedDict()
        ended = 0
        for ref in cell.native:
            f = ref()
            if f is None:
                continue
            if f.has_result():
                ended += 1
            else:
                native.setdefault(f.client, []).append(f)
        for ref in cell.loom:
            f = ref()
            # Released "when done" (a Rain session's unkept outputs): live until its task ends.
            if f is not None and (not f.released() or f.released_when_done()):
                loom.setdefault(f.client, []).append(f)
        cancelled = failed = 0
        for client, futures in list(native.items()) + list(loom.items()):
            report = client.cancel(futures, reason)
            cancelled += report.cancelled
            ended += report.ended
            failed += report.failed
        return Cancelled(cancelled, ended, failed)


def _s(n):
    return "" if n == 1 else "s"
