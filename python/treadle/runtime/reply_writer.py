"""The executor's reply pipe (fd 4): each message written whole, the replies of short tasks
several to a write, and a reply made and written by a thread of its own while the next task
runs (`defer`).

Between two tasks of ~10 ms the executor's path from one task's return to the next call runs
cold (its code and data left the caches while the task ran): each step costs several
microseconds. Making a reply (pickling the result, the sizes, the framing) and writing it were
about half of that path; when the result is one no task can change any more (numbers, text, a
short tuple of those) and the next request is already read, the serving thread hands the
result over and starts the next task: this writer's thread gets the GIL as soon as that task
waits (a sleep, I/O) and makes and writes the reply then, off the path. A task that holds the
GIL (CPU-bound Python) lets it out after _DEFERRED_SWITCH instead of Python's 5 ms, so the
reply is late by at most about that much. Whatever this writer writes next (another reply, a
task's output, a secession) writes a reply still waiting first: the worker sees the messages
in the order they were made.
"""

import os
import sys
import threading
import time

from . import pipe

# Python's thread switch interval while a reply waits for the thread that writes it (the default
# is 5 ms: a task that holds the GIL would keep the reply waiting that long).
_DEFERRED_SWITCH = 0.0002


class MessageWriter:
    """The reply pipe, shared by the threads of tasks that seceded: each message is written
    whole under a lock. Replies written without a flush wait in the buffer for the next message
    (or for `flush`), so the replies of short tasks reach the worker several to a write; never
    longer than ``hold`` seconds: a thread of its own sends them then, so a short task's result
    does not wait for a long task that came after it.

    That thread is woken only when it sleeps: once it has watched, it looks again by itself a
    ``hold`` later, and sleeps only after a look that found nothing held. A run of short tasks
    holds replies every few hundred microseconds; waking it for each (it then needs the GIL,
    which it takes at the running task's next system call) cost several context switches per
    batch of replies."""

    def __init__(self, stream, hold):
        self._stream = stream
        self._fd = stream.fileno()
        self._hold = hold
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._due = None       # when what waits in the buffer must go out (None: nothing waits)
        self._flusher = None
        self._sleeping = False  # the flusher waits to be woken (else it looks again within `hold`)
        # A reply handed over (`defer`): its thread makes and writes it, unless a message of this
        # writer comes first and writes it before itself.
        self._deferred = None
        self._signalled = False        # _maker_ready was released for it
        self._maker_ready = threading.Lock()
        self._maker_ready.acquire()
        self._switch_interval = None   # Python's own, while a reply waits for its thread
        threading.Thread(target=self._make_deferred, name="treadle-reply-maker", daemon=True).start()

    def write_message(self, header, blobs=(), flush=True):
        self.write_parts(pipe.message_parts(header, blobs), flush)

    def write_parts(self, parts, flush):
        with self._lock:
            if self._deferred is not None:
                self._write_deferred()
            for part in parts:
                self._stream.write(part)
            if flush:
                self._stream.flush()
                self._due = None
            elif self._due is None:
                self._due = time.monotonic() + self._hold
                if self._flusher is None:
                    self._flusher = threading.Thread(target=self._flush_when_due, name="treadle-replies", daemon=True)
                    self._flusher.start()
                elif self._sleeping:
                    self._wake.notify()

    def write_now(self, parts):
        """write_parts(parts, True); a reply in one piece with nothing held before it goes
        straight to the pipe (the buffered stream's path costs as much again, run cold)."""
        self._lock.acquire()
        try:
            if self._deferred is not None:
                self._write_deferred()
            if self._due is not None or len(parts) != 1:  # (nothing is held: the buffer is empty)
                for part in parts:
                    self._stream.write(part)
                self._stream.flush()
                self._due = None
                return
            data = parts[0]
            written = os.write(self._fd, data)
            while written < len(data):  # a signal cut the write
                written += os.write(self._fd, memoryview(data)[written:])
        finally:
            self._lock.release()

    def flush(self):
        with self._lock:
            if self._deferred is not None:
                self._write_deferred()
            self._stream.flush()
            self._due = None

    def defer(self, make, args):
        """A reply made (``make(*args)``, its parts) and written by a thread of this writer, while
        the caller goes on to the next task: only for a result no task can change any more. Until
        it is written, Python switches threads every _DEFERRED_SWITCH seconds (not 5 ms), so a
        task that holds the GIL lets it out soon."""
        self._lock.acquire()
        try:
            if self._deferred is not None:
                self._write_deferred()
            self._deferred = (make, args)
            if self._switch_interval is None:
                self._switch_interval = sys.getswitchinterval()
                sys.setswitchinterval(_DEFERRED_SWITCH)
            if not self._signalled:
                self._signalled = True
                self._maker_ready.release()
        finally:
            self._lock.release()

    def _write_deferred(self):
        make, args = self._deferred
        self._deferred = None
        try:
            for part in make(*args):
                self._stream.write(part)
            self._stream.flush()
            self._due = None
        finally:
            if self._switch_interval is not None:
                sys.setswitchinterval(self._switch_interval)
                self._switch_interval = None

    def _make_deferred(self):
        while True:
            self._maker_ready.acquire()
            with self._lock:
                self._signalled = False
                if self._deferred is not None:
                    try:
                        self._write_deferred()
                    except (OSError, ValueError):
                        return  # the worker is gone

    def _flush_when_due(self):
        with self._lock:
            looked = False  # a look found nothing held, a `hold` ago at most
            while True:
                if self._due is None:
                    if looked:
                        self._sleeping = True
                        self._wake.wait()
                        self._sleeping = looked = False
                    else:
                        looked = True
                        self._wake.wait(self._hold)
                    continue
                looked = False
                left = self._due - time.monotonic()
                if left > 0:
                    self._wake.wait(left)
                    continue
                try:
                    self._stream.flush()
                except (OSError, ValueError):
                    return  # the worker is gone
                self._due = None
