"""A TaskClient's mover: a daemon thread that moves the client's tasks on while nobody calls
the client, as IPython's controller scheduled them whatever the client did.

Some of a TaskClient's work happens in the client: a task routed by ``depend`` waits there for
a free engine that qualifies, its command is sent again while its engine is busy, a failed task
is run again (``retries``) or recovered (``recovery_task``). Without the mover that moved only
when the user called the client (``barrier``, ``get_task_result``...): 20 routed tasks on 2
engines, then a ``time.sleep`` or an idle notebook, and the queued ones had not run.

The thread lives while the client has such work (its ``needs_moving``): it waits for
the server's word that a watched task ended, or for the next resend a command is due, never in
a busy loop, then takes one step under the client's lock (its ``move``); once nothing is
left to move it ends, and the client starts another when work comes. While a user's call waits
in ``barrier`` (which moves the same work itself) it stands aside. ``stop()`` (the client's
close) ends it; at interpreter exit, a daemon thread waiting without the GIL ends quietly.
"""

import contextlib
import threading

_LONGEST_WAIT = 0.25   # seconds: a wait for news is this short at most, so stop() ends it soon


class Mover:
    """The mover of one client. ``lock``: the client's (every step runs under it);
    ``needs_moving()``: whether work is left; ``move(ended)``: one step, given the ids of the
    tasks heard ended since the last, returning the seconds until the next is due (None: stop);
    ``take_settled(timeout)``: waits for the server's word, returning (finished, failed) ids."""

    def __init__(self, lock, needs_moving, move, take_settled):
        self.lock = lock
        self.needs_moving, self.move, self.take_settled = needs_moving, move, take_settled
        self.thread = None
        self.stopped = False
        self._callers = 0   # the user's waits that move the work themselves
        self._idle = threading.Condition(lock)

    def ensure(self):
        """Starts the thread if the client has work for it and none runs (under the lock)."""
        if self.thread is None and not self.stopped and self.needs_moving():
            self.thread = threading.Thread(target=self._run, name="treadle-ipython-mover", daemon=True)
            self.thread.start()

    @contextlib.contextmanager
    def standing_aside(self):
        """Around a user's wait (barrier) that moves the same work: the thread waits meanwhile,
        so the two do not take the server's news from each other."""
        with self.lock:
            self._callers += 1
        try:
            yield
        finally:
            with self.lock:
                self._callers -= 1
                self._idle.notify_all()

    def stop(self):
        """Ends the thread, waiting for it (not under the lock: the thread needs it)."""
        with self.lock:
            self.stopped = True
            thread = self.thread
            self._idle.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(5.0)

    def _run(self):
        ended = ()
        try:
            while True:
                with self.lock:
                    if self.stopped:
                        break
                    if self._callers:
                        self._idle.wait(_LONGEST_WAIT)
                        continue
                    wait = self.move(ended)
                    if wait is None:
                        # Let go in the same hold of the lock that found no work: work a user's
                        # call adds right after starts a new thread (ensure), not lost in between.
                        self.thread = None
                        break
                # Outside the lock: the user's calls go on while this waits for the server.
                finished, failed = self.take_settled(min(wait, _LONGEST_WAIT))
                ended = finished + failed
        except Exception:
            pass   # the connection closed or was lost: the user's next call says so
        finally:
            try:
                with self.lock:
                    if self.thread is threading.current_thread():
                        self.thread = None
            except Exception:
                pass   # interpreter exit
