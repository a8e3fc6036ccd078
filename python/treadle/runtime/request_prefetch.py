"""The executor's next request, read while the task before it runs.

Between two tasks of ~10 ms, the executor's path from one task's return to the next call runs
cold (its code and data left the caches while the task ran), so each step there costs many
times its warm price, and reading and decoding the next request was one of the larger steps.
Once tasks are known to be short, the worker keeps two in flight per executor: the request
after the running task's next one arrives while that next one runs. A thread of the executor
waits for it in `select` (without the GIL) and reads and decodes it as it comes (and hands it
to `prepare`: the executor unpickles the call's config then), so after a task returns little is
left before the next call.

The executor asks for it (`prefetch`) only for tasks the worker did not mark `batch` (those
take under a millisecond: their next request is usually read already, and a thread that wakes
per request would take the GIL from them). When the worker sends one task at a time the next
comes only after the reply; the thread then watches for a withdrawal all the same (the worker
gives back the calls it sent behind one that turned out long, withdrawals.py). A task that
holds the GIL (CPU-bound Python) lends it to the thread once, when Python's switch interval
(5 ms) has passed; the request is then read during the task rather than after it.

While such a task runs the thread also reads whatever else comes (the request may be there
already): a `withdraw` of the call waiting behind it is handled as it arrives
(withdrawals.py), before the serving thread comes to that call.
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
        self._fd = fd
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._wanted = False   # the thread is to read the next message (under the lock)
        self._state = _IDLE    # the thread's (under the lock)
        # The serving thread asked for a prefetch and has not taken the lock since: only then
        # may the thread touch the reader.
        self._asked = False
        # Called on this thread with each message it read ahead, while the task before runs:
        # what can be made of it before its turn (the executor unpickles the call's config).
        self.prepare = None
        # Started now, not at the first task: Thread.start waits for the thread to run, which
        # on a busy machine took milliseconds off the first task.
        threading.Thread(target=self._run, name="treadle-requests", daemon=True).start()

    def prefetch(self):
        """Have the next message read and decoded as soon as it arrives (the caller is about
        to run a task that may take a while)."""
        with self._lock:
            if self.reader.ended:
                return
            # Already here (the worker wrote it with the one before): the thread only watches
            # for what comes next (a withdrawal).
            self._wanted = not self.reader.has_message()
            self._asked = True
            if self._state == _IDLE:
                self._changed.notify()

    def _take_back(self):
        """The serving thread uses the reader again: the thread leaves it alone (it finishes a
        read it began first). If the thread still waits on the pipe, both wake at the next
        request, and it idles then: the serving thread's wait never hangs on the thread's
        being scheduled."""
        with self._lock:
            self._wanted = self._asked = False

    def has_message(self, fetch=False):
        if self._asked:
            self._take_back()
        return self.reader.has_message(fetch)

    def read_message(self):
        if self._asked:
            self._take_back()
        return self.reader.read_message()

    def _run(self):
        reader, fd = self.reader, self._fd
        anticipate = False  # wait on the pipe unasked: the next request is the next thing to come
        with self._lock:
            while True:
                if (not self._asked and not anticipate) or reader.ended:
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
                if not self._asked:
                    continue  # the serving thread read it itself: idle until asked again
                self._state = _READING
                if not self._wanted:
                    reader.take_in()  # the task runs on: what comes is read (and a withdrawal handled)
                    continue
                if reader.has_message(fetch=True) or reader.ended:
                    self._wanted = False
                    ready = reader.ready_message()
                    if ready is not None and self.prepare is not None:
                        self.prepare(*ready)
                    # The pipe is empty now, and the serving thread asks for the next request as
                    # the task it is about to take starts: waiting already spares it waking this
                    # thread then.
                    anticipate = not reader.ended
