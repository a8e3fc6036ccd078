"""The progress monitor: follows the tasks of progress lines and live graphs on one server,
through a connection of its own (it takes nothing from the clients' connections), on a thread
of its own, and updates the widgets it was given (treadle.widgets.progress.Progress, the graph
widget's LiveGraph) from there."""

import threading
import time
import weakref

from ..core.connection import Connection


class ProgressMonitor:
    """Follows the tasks of progress lines and live graphs on one server through a connection
    of its own (so it takes nothing from the clients' connections), on a thread of its own."""

    _STATUS_EVERY = 1.0   # seconds between asks for the number of running tasks

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
            entry = [progress, [weakref.ref(f) for _, f in futures]]
            self._active.append(entry)
            ids = [task for task, _ in futures]
            ids.extend(more)
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
                finished, failed = self._conn.settled(0 if syncs else 0.05)
            except Exception:
                finished, failed = [], []
            counts = {}
            view_news = {}
            with self._lock:
                for task in finished:
                    entry = self._by_task.pop(task, None)
                    if entry is not None:
                        counts.setdefault(id(entry), [entry, [], []])[1].append(task)
                    for v in self._view_tasks.pop(task, ()):
                        view_news.setdefault(id(v), [v, [], []])[1].append(task)
                for task in failed:
                    entry = self._by_task.pop(task, None)
                    if entry is not None:
                        counts.setdefault(id(entry), [entry, [], []])[2].append(task)
                    for v in self._view_tasks.pop(task, ()):
                        view_news.setdefault(id(v), [v, [], []])[2].append(task)
            for entry, done, bad in counts.values():
                entry[0].add(len(done), bad, done)
            for view, ok, bad in view_news.values():
                try:
                    view.settled(ok, bad)
                except Exception:
                    pass
            now = time.monotonic()
            if active and now - last_status >= self._STATUS_EVERY:
                last_status = now
                try:
                    states = self._conn.status().get("states", {})
                    running = states.get("running", 0)   # assigned ones may wait queued on a worker
                except Exception:
                    running = None
                for progress, refs in active:
                    if running is not None:
                        progress.set_running(running)
                    if progress.state is None and all(r() is None or r().released() for r in refs):
                        progress.released()  # nobody can wait for them any more
            for progress, _ in active:
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
