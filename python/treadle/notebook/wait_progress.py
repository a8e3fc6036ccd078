"""The progress line of a cell blocked on futures (a gather, a result()): shown only when the
wait lasts, by one thread for every wait."""

import threading
import time

from ..core.address import server_key
from ..core.task import TASK_MASK
from ..widgets.progress import Progress
from .options import options


class WaitProgress:
    """The progress line of a cell blocked on futures (a gather, a result()): it appears only
    when the wait lasts over ``AFTER`` seconds, so quick waits stay quiet; the monitor's thread
    follows the tasks, and the line says how the wait ended."""

    AFTER = 0.5

    def __init__(self, cell, futures, session):
        self.cell = cell
        self.futures = futures
        self.session = session
        self.progress = None
        self.due = None
        self._lock = threading.Lock()
        self._ended = False

    def __enter__(self):
        self._began = time.monotonic()
        self.due = self._began + self.AFTER
        _wait_watcher.add(self)
        return self

    def show(self):
        with self._lock:
            if self._ended:
                return
            # A task's line counts the task once, whichever of its outputs are waited for
            # (an output's handle is named by its object id: task | k << 40).
            futures = list({f.task_id & TASK_MASK: f for f in self.futures}.items())
            n = len(futures)
            progress = Progress("waiting for {} task{}".format(n, _s(n)), n, publisher=self.cell.publisher,
                                interval=options.interval)
            progress.started = self._began   # the rate counts from the start of the wait
            address = server_key(self.futures[0].client.address)
            try:
                progress.publish()
                self.session.monitor(address).track(progress, futures)
            except Exception:
                return   # no line: the wait goes on all the same
            self.cell.progress.append(progress)
            self.progress = progress

    def __exit__(self, etype, error, tb):
        _wait_watcher.remove(self)
        with self._lock:
            self._ended = True
            progress = self.progress
        if progress is not None:
            if etype is None:
                progress.complete()
            elif issubclass(etype, KeyboardInterrupt):
                progress.cancelled()
            elif issubclass(etype, GeneratorExit):
                progress.released()   # a map left before its end: its futures are released
            else:
                failed = getattr(error, "task_id", None)   # a TaskFailed names the task waited on that failed
                if failed is not None:
                    progress.note_failed(failed & TASK_MASK)
                progress.complete(failed=True)
        return False


class _WaitWatcher:
    """One thread shows the lines of every wait that lasts: a timer thread per wait would cost
    ~140 µs, paid by each result() of a loop over futures. Waits begin on the main thread, so
    they come in the order they are due."""

    def __init__(self):
        self._cond = threading.Condition()
        self._waits = []
        self._thread = None

    def add(self, wait):
        with self._cond:
            self._waits.append(wait)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="treadle-waits", daemon=True)
                self._thread.start()
            if len(self._waits) == 1:
                self._cond.notify()

    def remove(self, wait):
        with self._cond:
            for i in range(len(self._waits) - 1, -1, -1):   # most often the last one
                if self._waits[i] is wait:
                    del self._waits[i]
                    break

    def _run(self):
        while True:
            with self._cond:
                if not self._waits:
                    self._cond.wait()
                    continue
                left = self._waits[0].due - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                wait = self._waits.pop(0)
            wait.show()


_wait_watcher = _WaitWatcher()


def _s(n):
    return "" if n == 1 else "s"
