"""Tasks the worker takes back from an executor's request pipe before they start (``withdraw``).

Once a function's calls are known to be short, the worker keeps a second call in each
executor's pipe behind the running one. A pipe cannot give a request back, so when such a
waiting call is cancelled the worker writes ``{"op": "withdraw", "id": X}`` after it. The
message is handled the moment its bytes are read from the pipe (pipe.MessageReader calls
`withdraw` from whichever thread reads: the read-ahead thread while a task runs, the serving
thread between tasks, and before it starts a task not marked `batch`), never queued as a
request. Since the pipe is read in order, the run
request of X was read before its withdrawal, so X is then one of:

- waiting (read, not started): the executor answers ``{"op": "withdrawn", "id": X}`` at once
  (the worker frees its slot) and the serving thread, when it comes to it, skips it (X never
  runs; its end-of-task markers are written all the same);
- running now: the executor answers ``{"op": "running", "id": X}`` at once, and the worker does
  what it does for a running task it cancels (it replaces the executor);
- ended (its reply may still be on its way): nothing; the worker drops that reply.

The worker also withdraws the calls waiting behind one that runs far longer than its function
usually takes, to give them to an idle executor or worker (then it keeps a result that came).

Tiny tasks the worker marks `batch` run without the read-ahead thread: a withdrawal that
comes while one runs is read after it, so a call it names that was already taken has run, and
its result is dropped. (The worker withdraws only calls that wait behind another, and the
serving thread reads all the pipe holds before it takes the next call, so a call withdrawn
while it still waited in the pipe is skipped.)
"""

import collections
import threading

from . import pipe

# The calls the serving thread took last: a withdrawal naming one of them came after it ended.
# The worker keeps at most 32 calls in an executor's pipe, so it cannot name an older one.
_RECENT = 256


class Withdrawals:
    def __init__(self, replies):
        self._replies = replies
        self._lock = threading.Lock()
        self._withdrawn = set()   # read and not started: skipped when the serving thread comes to them
        self._current = None      # the serving thread's task now
        self._taken = collections.deque(maxlen=_RECENT)

    def withdraw(self, task_id):
        """The worker took ``task_id`` back (called by the thread that read the message)."""
        with self._lock:
            if task_id == self._current:
                answer = "running"
            elif task_id in self._taken:
                return
            else:
                answer = "withdrawn"
                self._withdrawn.add(task_id)
            # (Under the lock: the serving thread cannot take it before the worker is told.)
            pipe.write_message(self._replies, '{"op":"%s","id":%d}' % (answer, task_id))

    def take(self, task_id):
        """The serving thread comes to ``task_id``: whether to run it (else it was withdrawn,
        and answered: it is skipped)."""
        with self._lock:
            if task_id in self._withdrawn:
                self._withdrawn.discard(task_id)
                return False
            self._current = task_id
            self._taken.append(task_id)
            return True

    def ended(self, task_id):
        """The task the serving thread took has returned (or seceded: its thread is no longer
        the serving one, and it is no longer taken back as a waiting one)."""
        with self._lock:
            if self._current == task_id:
                self._current = None
