"""Child processes that do not outlive this one: servers, workers, ssh sessions, executors."""

import ctypes
import signal
import threading

_PR_SET_PDEATHSIG = 1


def die_with_parent(sig=signal.SIGTERM):
    """Asks the kernel to send ``sig`` to this process when its parent dies; False if it cannot."""
    try:
        return ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except Exception:
        return False


def child_setup(unblock_signals=False):
    """The ``preexec_fn`` of a child that dies with this process (SIGTERM), or None.

    The death signal follows the *thread* that started the child, and only the main thread
    lives as long as the process: children started elsewhere get no death signal.
    ``unblock_signals``: clear the signal mask the child would inherit (a kernel blocks SIGINT
    in its threads; a worker must not)."""
    on_main = threading.current_thread() is threading.main_thread()
    if not on_main and not unblock_signals:
        return None

    def setup():
        if unblock_signals:
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
        if on_main:
            die_with_parent()
    return setup
