"""Reaps the kernel's worker processes as they end: a worker killed (SIGKILL, the OOM killer)
or crashed must not stay a zombie of the kernel until something asks whether it is alive.

The local cluster owns its children, so it waits for them; ipykernel reaps nothing of its own
(xtreadle neither). One thread for all of them sleeps in ``poll`` on a pidfd per process (Linux
5.3+), woken the moment one ends, and never otherwise; without pidfds it looks every second."""

import os
import select
import threading


class ChildReaper:
    """``watch(proc, ended)``: once the subprocess.Popen ``proc`` ends, it is reaped
    (``proc.poll()``, which records its exit status) and ``ended(proc)`` is called, on the
    reaper's thread. ``close()`` stops the thread."""

    _FALLBACK_EVERY = 1.0   # seconds between looks when pidfds are missing

    def __init__(self):
        self._lock = threading.Lock()
        self._watched = {}          # fd (a pidfd, or a negative key without one) -> (proc, ended)
        self._next_key = -1
        self._thread = None
        self._wake_read = self._wake_write = None
        self._closed = False

    def watch(self, proc, ended=None):
        try:
            key = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):   # an old kernel or Python: looked at every second
            key = None
        with self._lock:
            if self._closed:
                if key is not None:
                    os.close(key)
                return
            if key is None:
                key, self._next_key = self._next_key, self._next_key - 1
            self._watched[key] = (proc, ended)
            if self._thread is None:
                self._wake_read, self._wake_write = os.pipe()
                self._thread = threading.Thread(target=self._run, name="treadle-reaper", daemon=True)
                self._thread.start()
            else:
                os.write(self._wake_write, b"w")   # poll again, with this fd among its own

    def close(self):
        with self._lock:
            self._closed = True
            thread = self._thread
            if thread is not None:
                os.write(self._wake_write, b"c")
        if thread is not None and thread is not threading.current_thread():
            thread.join(2.0)

    def _run(self):
        while True:
            with self._lock:
                if self._closed:
                    break
                fds = [k for k in self._watched if k >= 0]
                timeout = self._FALLBACK_EVERY * 1000 if len(fds) < len(self._watched) else None
            poller = select.poll()
            poller.register(self._wake_read, select.POLLIN)
            for fd in fds:
                poller.register(fd, select.POLLIN)
            ready = {fd for fd, _ in poller.poll(timeout)}
            if self._wake_read in ready:
                os.read(self._wake_read, 64)
            self._reap(ready)
        with self._lock:
            for key in self._watched:
                if key >= 0:
                    os.close(key)
            self._watched.clear()
            os.close(self._wake_read)
            os.close(self._wake_write)

    def _reap(self, ready):
        """Reaps the processes whose pidfd is ready, and those without one that ended."""
        with self._lock:
            due = [(key, proc, ended) for key, (proc, ended) in self._watched.items()
                   if key in ready or key < 0]
        for key, proc, ended in due:
            if proc.poll() is None:   # (a pidfd is ready only once its process ended)
                continue
            with self._lock:
                self._watched.pop(key, None)
            if key >= 0:
                os.close(key)
            if ended is not None:
                try:
                    ended(proc)
                except Exception:   # the reaper goes on for the others
                    pass
