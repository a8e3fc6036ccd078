"""The progress monitor: follows the tasks of progress lines and live graphs on one server,
through a connection of its own (it takes nothing from the clients' connections), on a thread
of its own, and updates the widgets it was given (treadle.widgets.progress.Progress, the graph
widget's LiveGraph) from there."""

import threading
import time
import weakref

from ..core.connection import Connection
from ..widgets import states as task_states

# What the scheduler's states mean for a progress line's counts.
_DONE = frozenset(("finished", "released"))   # released: finished, and nobody needs the result now
_COUNTED = {"running": "running", "assigned": "queued"}   # assigned: on a worker, not started yet


def count_states(ids, states):
    """(finished ids, failed ids, cancelled ids, {"running": n, "queued": n}) from the
    scheduler's states."""
    finished, failed, cancelled, now = [], [], [], {"running": 0, "queued": 0}
    for task, state in zip(ids, states):
        if state in _DONE:
            finished.append(task)
        elif state == "failed":
            failed.append(task)
        elif state == "cancelled":
            cancelled.append(task)
        elif state in _COUNTED:
            now[_COUNTED[state]] += 1
    return finished, failed, cancelled, now


class ProgressMonitor:
    """Follows the tasks of progress lines and live graphs on one server through a connection
    of its own (so it takes nothing from the clients' connections), on a thread of its own."""

    _STATES_EVERY = 0.5   # seconds between asks for the states of a line's tasks

    def __init__(self, address):
        self.address = tuple(address)
        self._lock = threading.Lock()
        self._conn = None
        self._by_task = {}        # task id -> [Progress, futures' weak references]
        self._active = []         # [Progress, [weakrefs of its futures]]
        self._views = []          # live views (graphs): tick(conn) until they say they are done
        self._view_tasks = {}     # task id -> [views] (when the server cannot answer states)
        self._thread = None
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._syncs = []          # Events of callers waiting for an up-to-date pass (sync)

    def _connection(self):
        if self._conn is None:
            self._conn = Connection(self.address[0], self.address[1], "", "treadle-progress", 10.0)
        return self._conn

    def _start(self):
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="treadle-progress", daemon=True)
            self._thread.start()

    def track(self, progress, futures, more=()):
        """Follows ``futures`` ([(task id, loom future)]) for ``progress``, and the tasks
        ``more`` (ids) that count too: the rest of the plans behind them."""
        with self._lock:
            conn = self._connection()
            progress.followed = True
            ids = [task for task, _ in futures]
            ids.extend(more)
            # [the line, weak references of its futures, ids whose end it has not counted yet]
            entry = [progress, [weakref.ref(f) for _, f in futures], set(ids)]
            self._active.append(entry)
            for task in ids:
                self._by_task[task] = entry
            conn.watch(ids)
            self._start()
        self._wake.set()

    def follow(self, view, watch_ids=()):
        """Calls ``view.tick(conn)`` from the monitor's thread until ``view.finished``; when
        ``watch_ids`` are given, ``view.settled(finished, failed)`` hears when those end (for
        servers without the states request)."""
        with self._lock:
            conn = self._connection()
            self._views.append(view)
            if watch_ids:
                for task in watch_ids:
                    self._view_tasks.setdefault(task, []).append(view)
                conn.watch(list(watch_ids))
            self._start()
        self._wake.set()

    def _ended(self, task):
        """The entry counting ``task``, which ended (lock held); it is counted once."""
        entry = self._by_task.pop(task, None)
        if entry is not None:
            entry[2].discard(task)
        return entry

    def _counted(self, entry, task):
        """Whether ``task`` was still to be counted by ``entry`` (lock held); it is now."""
        if task not in entry[2]:
            return False
        entry[2].discard(task)
        if self._by_task.get(task) is entry:
            del self._by_task[task]
        return True

    def _count_later(self, entry, tasks):
        """The line ended while these were being counted: its final ask counts them."""
        with self._lock:
            entry[2].update(tasks)

    def _ask_states(self, entry, final=False):
        """Counts a line's tasks by the scheduler's states: the ended ones it has not heard of
        yet, and those running and queued now. ``final``: the line ended; its counts settle."""
        with self._lock:
            ids = list(entry[2])
        if not ids:
            return
        states = task_states.ask(self._conn, ids)
        if states is None:
            return
        finished, failed, cancelled, now = count_states(ids, states)
        with self._lock:
            finished = [t for t in finished if self._counted(entry, t)]
            failed = [t for t in failed if self._counted(entry, t)]
            cancelled = [t for t in cancelled if self._counted(entry, t)]
        if not entry[0].add(len(finished), failed, finished, final=final, cancelled=cancelled):
            self._count_later(entry, finished + failed + cancelled)
        if not final:
            entry[0].set_running(now["running"], now["queued"])

    def connection(self):
        with self._lock:
            return self._connection()

    def sync(self, timeout=1.0):
        """Waits (at most ``timeout`` seconds) until the monitor's thread has made one pass that
        publishes every line and view as they are now, whatever their intervals: called at the
        end of a cell, so that what ended during the cell is sent before the cell's end."""
        with self._lock:
            if self._thread is None or (not self._active and not self._views):
                return
            done = threading.Event()
            self._syncs.append(done)
        self._wake.set()
        done.wait(timeout)

    def _run(self):
        last_status = 0.0
        while not self._stopping.is_set():
            with self._lock:
                active = list(self._active)
                views = list(self._views)
                syncs, self._syncs = self._syncs, []
            if not active and not views:
                for done in syncs:
                    done.set()
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            try:
                finished, failed, cancelled = self._conn.settled(0 if syncs else 0.05)
            except Exception:
                finished, failed, cancelled = [], [], []
            counts = {}
            view_news = {}
            with self._lock:
                for task in finished:
                    entry = self._ended(task)
                    if entry is not None:
                        counts.setdefault(id(entry), [entry, [], [], []])[1].append(task)
                    for v in self._view_tasks.pop(task, ()):
                        view_news.setdefault(id(v), [v, [], []])[1].append(task)
                for task in failed:
                    entry = self._ended(task)
                    if entry is not None:
                        counts.setdefault(id(entry), [entry, [], [], []])[2].append(task)
                    for v in self._view_tasks.pop(task, ()):
                        view_news.setdefault(id(v), [v, [], []])[2].append(task)
                for task in cancelled:   # a view (a graph) reads it from the states it asks
                    entry = self._ended(task)
                    if entry is not None:
                        counts.setdefault(id(entry), [entry, [], [], []])[3].append(task)
                    self._view_tasks.pop(task, None)
            for entry, done, bad, stopped in counts.values():
                if not entry[0].add(len(done), bad, done, cancelled=stopped):
                    self._count_later(entry, done + bad + stopped)
            for view, ok, bad in view_news.values():
                try:
                    view.settled(ok, bad)
                except Exception:
                    pass
            now = time.monotonic()
            if active and now - last_status >= self._STATES_EVERY:
                last_status = now
                for entry in active:
                    progress, refs = entry[0], entry[1]
                    if progress.state is None:
                        self._ask_states(entry)
                    if progress.state is None and all(_gone(r()) for r in refs):
                        progress.released()  # nobody can wait for them any more
            for progress, *_ in active:
                progress.update(force=bool(syncs))
            for view in views:
                try:
                    if syncs and hasattr(view, "flush"):
                        view.flush(self._conn)   # now, whatever its interval
                    else:
                        view.tick(self._conn)
                except Exception:
                    view.finished = True
            with self._lock:
                ended = [e for e in self._active if e[0].finished]
                for e in ended:
                    self._active.remove(e)
            for e in ended:
                if e[0].state in ("done", "failed", "cancelled"):
                    self._ask_states(e, final=True)   # the cell may have ended the line first
                e[0].echo_final()
            with self._lock:
                if ended:
                    gone = set(map(id, ended))
                    self._by_task = {t: e for t, e in self._by_task.items() if id(e) not in gone}
                done_views = [v for v in self._views if v.finished]
                if done_views:
                    self._views = [v for v in self._views if not v.finished]
                    gone = set(map(id, done_views))
                    self._view_tasks = {t: [v for v in vs if id(v) not in gone]
                                        for t, vs in self._view_tasks.items()}
                    self._view_tasks = {t: vs for t, vs in self._view_tasks.items() if vs}
            for done in syncs:
                done.set()

    def close(self):
        self._stopping.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass


def _gone(handle):
    """Nobody can wait for this handle's task any more: dropped, or released (not "when done":
    the server holds such a one until its task ends, and the line follows it)."""
    return handle is None or (handle.released() and not handle.released_when_done())
