"""A handle to a submitted task's result."""


class Future:
    """The result of a submitted task, kept on the workers until released.

    ``wait()`` blocks until it is computed, ``fetch()`` downloads it (it stays on the workers),
    ``release()`` frees it, ``gather()`` is fetch + release. A future may be used as an input
    of tasks submitted later, until it is released. Dropping the last reference releases it.
    ``finished()`` and ``released()`` are methods, as in HyperLoom.
    """

    __slots__ = ("client", "task_id", "_released", "_finished", "__weakref__")

    def __init__(self, client, task_id):
        self.client = client
        self.task_id = task_id
        self._released = False
        self._finished = False   # seen finished by a wait or fetch, or by asking the server

    def released(self):
        """True once the future was released (by release(), gather() or the client)."""
        return self._released

    def finished(self):
        """True if the result is computed and not released; asks the server until it is."""
        if self._released:
            return False
        if not self._finished:
            self._finished = self.client.states((self,))[0] == "finished"
        return self._finished

    def wait(self):
        __tracebackhide__ = True  # IPython shows the task's frames, not these
        self.client.wait((self,))

    def fetch(self):
        __tracebackhide__ = True  # IPython shows the task's frames, not these
        return self.client.fetch((self,))[0]

    def release(self):
        self.client.release((self,))

    def gather(self):
        __tracebackhide__ = True  # IPython shows the task's frames, not these
        return self.client.gather((self,))[0]

    def __del__(self):
        try:
            if not self._released:
                self.client.release((self,))
        except Exception:
            pass  # interpreter shutdown or a closed client: the server releases on disconnect

    def __repr__(self):
        return "<Future task_id={}{}>".format(self.task_id, " released" if self._released else "")
