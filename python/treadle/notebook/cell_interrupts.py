"""Interrupting a cell cancels the tasks it submitted (once), wherever the interrupt lands:

- in the cell's code: IPython's custom-exception slot for KeyboardInterrupt (taken when nobody
  else has) cancels before IPython formats the traceback, which the first time in a session
  takes seconds on a loaded machine while the tasks run on;
- while the cell's error is being shown: a ``%%treadle submit`` cell fails as soon as one of its
  tasks fails, and the others go on. IPython's ``showtraceback`` catches an interrupt that lands
  in its formatting, prints a bare "KeyboardInterrupt" in place of the error and leaves the
  cell's error as it was, so nothing else would know. While a cell whose tasks may still run
  shows its error, SIGINT stops the showing instead; the tasks are cancelled, then the error is
  shown again, whole;
- in IPython's machinery around the cell's code (the interrupt becomes the cell's error before
  or after its execution): seen when the cell ends (post_run_cell).
"""

import inspect
import signal
import threading


class _StopShowing(BaseException):
    """Raised by SIGINT inside the showing of a cell's error: not a KeyboardInterrupt nor an
    Exception, so IPython's handlers of those let it through to the guard."""


class _ShowingGuard:
    """SIGINT's handler while a cell's error is shown."""

    def __init__(self, frame):
        self.frame = frame           # the guard's own frame: not inside the showing
        self.interrupted = False

    def __call__(self, signum, frame):
        self.interrupted = True
        if frame is not self.frame:
            raise _StopShowing()     # inside the showing: stop it, it starts again after the cancel
        # Before or after the showing (the guard's own frame): the cancel follows, nothing to stop.


class CellInterrupts:
    """Cancels the running cell's tasks when it is interrupted. ``may_cancel()``: the running
    cell has tasks an interrupt would cancel (and has not cancelled them); ``cancel()`` cancels
    them (at most once per cell: the caller keeps count)."""

    def __init__(self, shell, may_cancel, cancel):
        self.shell = shell
        self.may_cancel = may_cancel
        self.cancel = cancel
        self._catches_interrupts = False
        self._showtraceback = None   # the shell's own, which the guard wraps

    def install(self):
        shell = self.shell
        if not getattr(shell, "custom_exceptions", ()):
            shell.set_custom_exc((KeyboardInterrupt,), self._interrupted)
            self._catches_interrupts = True
        self._showtraceback = shell.showtraceback
        shell.showtraceback = self._guarded_showtraceback

    def close(self):
        shell = self.shell
        if self._catches_interrupts and shell.custom_exceptions == (KeyboardInterrupt,):
            shell.set_custom_exc((), None)
        if self._showtraceback is not None and shell.__dict__.get("showtraceback") == self._guarded_showtraceback:
            shell.showtraceback = self._showtraceback

    def cell_ended(self, result):
        """post_run_cell: an interrupt IPython recorded as the cell's error, before or in its
        execution, cancels (if nothing did yet)."""
        if isinstance(getattr(result, "error_in_exec", None), KeyboardInterrupt) or \
                isinstance(getattr(result, "error_before_exec", None), KeyboardInterrupt):
            self.cancel()

    def _interrupted(self, shell, etype, value, tb, tb_offset=None):
        """IPython's handler of a KeyboardInterrupt that ends a cell: cancel, then the traceback."""
        try:
            self.cancel()
        finally:
            shell.showtraceback((etype, value, tb), tb_offset=tb_offset)

    def _guarded_showtraceback(self, *args, **kwargs):
        show = self._showtraceback
        if threading.current_thread() is not threading.main_thread() or not self.may_cancel():
            return show(*args, **kwargs)
        guard = _ShowingGuard(inspect.currentframe())
        try:
            previous = signal.signal(signal.SIGINT, guard)
        except (ValueError, OSError, TypeError):
            return show(*args, **kwargs)
        stopped = False
        try:
            show(*args, **kwargs)
        except _StopShowing:
            stopped = True   # out of this block, the error being handled is the cell's again
        finally:
            signal.signal(signal.SIGINT, previous)
        if guard.interrupted:
            self.cancel()
        if stopped:
            show(*args, **kwargs)   # whole; another interrupt stops it as IPython does
