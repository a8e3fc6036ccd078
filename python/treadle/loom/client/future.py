"""A handle to a submitted task's result."""

from ...core.client import TaskHandle
from ...core.foreign import RefusesPickling
from ...core.local_traceback import raised_as_local


class Future(TaskHandle, RefusesPickling):
    """The result of a submitted task, kept on the workers until released.

    ``wait()`` blocks until it is computed, ``fetch()`` downloads it (it stays on the workers),
    ``release()`` frees it, ``gather()`` is fetch + release. A future may be used as an input
    of tasks submitted later, until it is released. Dropping the last reference releases it.
    ``finished()`` and ``released()`` are methods, as in HyperLoom.
    """

    __slots__ = ()
    __treadle_api__ = ("treadle.loom.client", "f.fetch()")   # core.foreign: other APIs refuse it by name

    def finished(self):
        """True if the result is computed and not released; asks the server until it is."""
        if self.released():
            return False
        return self.known_finished() or self.client.states((self,))[0] == "finished"

    def wait(self):
        __tracebackhide__ = True  # IPython shows the task's frames, not these
        with raised_as_local:     # so does a script (core.local_traceback)
            self.client.wait((self,))

    def fetch(self):
        __tracebackhide__ = True  # IPython shows the task's frames, not these
        with raised_as_local:
            return self.client.fetch((self,))[0]

    def gather(self):
        __tracebackhide__ = True  # IPython shows the task's frames, not these
        with raised_as_local:
            return self.client.gather((self,))[0]

    def __repr__(self):
        return "<Future task_id={}{}>".format(self.task_id, " released" if self.released() else "")
