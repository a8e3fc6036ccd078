"""The executor's next request, read while the task before it runs.

Between two tasks of ~10 ms, the executor's path from one task's return to the next call runs
cold (its code and data left the caches while the task ran), so each step there costs many
times its warm price, and reading and decoding the next request was one of the larger steps.
The worker sends that request as it reads the reply of the task before, i.e. while the next
task already runs (it keeps two in flight once tasks are known to be short): a thread of the
executor waits for it in `select` (without the GIL) and reads and decodes it as it comes, so
after a task returns only its reply is made and written before the next call.

Only for tasks the worker did not mark `batch` (those take under a millisecond: their next
request is usually read already, and a thread that wakes per request would take the GIL from
them). A task that holds the GIL (CPU-bound Python) lends it to the thread once per task, when
Python's switch interval (5 ms) has passed; the request is then read during the task rather
than after it.

While the thread exists, it alone waits on the pipe when it was asked to (a wait of the serving
thread then waits for it): two threads woken by one request would take the GIL in turn.
"""

import select
import threading

_IDLE, _SELECTING, _READING = range(3)


class PrefetchingReader:
    """A pipe.MessageReader's `has_message` and `read_message`, for the serving thread, and
    `prefetch`: read the next message on a thread of its own while the caller runs a task.
    Until the first prefetch after these were last called, `reader` may be used directly."""

    def __init__(self, reader, fd):
        self.reader = reader
        self._reader = reader
        self._fd = fd
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._wanted = False   # the thread is to read the next message (under the lock)
        self._ahead = False    # ... while a task runs (else: for the serving thread, which waits)
        self._state = _IDLE    # the thread's (under the lock)
        # Started now, not at the first task: Thread.start waits for the thread to run, which
        # on a busy machine took milliseconds off the first task.
        threading.Thread(target=self._run, name="treadle-requests", daemon=True).start()
        # The serving thread asked for a prefetch and has not taken the lock since: only then
        # may the thread touch the reader, so without it the reader is used without the lock
        # (tiny tasks never ask: no lock per task).
        self._asked = False

    def prefetch(self):
        """Have the next message read and decoded as soon as it arrives (the caller is about
        to run a task that may take a while)."""
        with self._lock:
            if self._reader.has_message() or self._reader.ended:
                return  # already here (the worker wrote it with the one before)
            self._wanted = self._ahead = True
            self._asked = True
            if self._state == _IDLE:
                self._changed.notify_all()

    def has_message(self, fetch=False):
        if not self._asked:
            return self._reader.has_message(fetch)
        with self._lock:
            self._wanted = self._asked = False
            return self._reader.has_message(fetch)

    def read_message(self):
        if not self._asked and (self._state == _IDLE or self._reader.has_message()):
            return self._reader.read_message()  # the thread reads nothing unasked: no lock needed
        with self._lock:
            self._asked = False
            reader = self._reader
            if not reader.has_message() and not reader.ended and self._state == _SELECTING:
                # The thread waits on the pipe already: it reads what comes, this one waits for it.
                self._wanted, self._ahead = True, False
                while self._wanted:
                    self._changed.wait()
            self._wanted = False
            return reader.read_message()  # else the thread idles: this one may wait on the pipe itself

    def _run(self):
        reader, fd = self._reader, self._fd
        anticipate = False  # wait on the pipe unasked: the next request is the next thing to come
        with self._lock:
            while True:
                if not self._wanted and not anticipate:
                    self._state = _IDLE
                    self._changed.wait()
                    continue
                self._state = _SELECTING
                self._lock.release()
                try:
                    select.select([fd], [], [])
                finally:
                    self._lock.acquire()
                anticipate = False
                if not self._wanted:
                    continue  # the serving thread read it itself: idle until asked again
                self._state = _READING
                if reader.has_message(fetch=True) or reader.ended:
                    self._wanted = False
                    # The pipe is empty now, and the serving thread asks for the next request as
                    # the task it is about to take starts: waiting already spares it waking this
                    # thread then. (Not after a read the serving thread waited for: tasks that come
                    # one at a time, or short ones, would have every wait go through this thread.)
                    anticipate = self._ahead and not reader.ended
                    self._changed.notify_all()
