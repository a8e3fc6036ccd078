"""treadle inside a Jupyter kernel: the server, local workers, the kernel's output streams.

Two front doors share this module:

- the treadle kernel (``xtreadle``) calls :func:`install_in_xtreadle` at start-up: the server is
  the one the kernel embeds (C++, module ``_treadle_kernel``), and stdout/stderr become the
  kernel's coalescing streams;
- ``%load_ext treadle`` in another IPython kernel calls :func:`install_in_ipython`: the server
  runs in-process (``treadle._engine.Server``).

Either way ``treadle.default_client()`` connects to that server, and when no worker is connected
the first submission starts one local worker per core and says so. ``%treadle workers`` starts
and stops workers explicitly. Workers run in process groups of their own (an interrupt, which
Jupyter sends to the kernel's whole process group, must not reach them) and are stopped when
the kernel shuts down.

The server listens on 127.0.0.1 unless $TREADLE_KERNEL_HOST names another address (``0.0.0.0``
for all): workers on other hosts (``%treadle workers --hosts``) need one they can reach.

This module is the glue; the parts have modules of their own: ``session`` (the server and the
workers this kernel started), ``cell_tracker`` (which cell submitted which task: output
routing, cancel on interrupt, ``%treadle stop``, progress while a cell waits), ``cell_publisher``
(sending to a cell from any thread), ``options`` (``%treadle config``) and ``progress_monitor``
(progress lines and live graphs, updated from a thread of its own). The magics sit above this
layer (treadle.magics): whoever installs treadle in a shell registers them (treadle.kernel_support
for xtreadle, ``%load_ext treadle`` elsewhere).
"""

import atexit
import io
import os
import sys
import threading

from .. import api
from ..core import embedded_server, engine, lineage
from ..core.client import Cancelled
from . import shell_exit
from .cell_publisher import cell_publisher
from .cell_tracker import CellTracker
from .session import Session

_session = None
_session_lock = threading.Lock()
_tracker = None


def session():
    """The current Session, or None outside a kernel with treadle loaded."""
    return _session


# -- the kernel's streams (xtreadle) ---------------------------------------------------------

class KernelStream(io.TextIOBase):
    """sys.stdout / sys.stderr in xtreadle: text is queued in the kernel (C++), which sends it
    in few IOPub messages (at 4 KiB or 50 ms, and before displays, errors and the end of a
    cell), from whichever thread wrote it."""

    def __init__(self, name, kernel):
        super().__init__()
        self._name = name
        self._kernel = kernel

    @property
    def name(self):
        return "<{}>".format(self._name)

    @property
    def encoding(self):
        return "utf-8"

    @property
    def errors(self):
        return "replace"

    def writable(self):
        return True

    def isatty(self):
        return False

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not {}".format(type(text).__name__))
        self._kernel.write(self._name, text)
        return len(text)

    def flush(self):
        self._kernel.flush()


def _flush_first(fn, flush):
    def wrapper(*args, **kwargs):
        flush()
        return fn(*args, **kwargs)
    wrapper.__wrapped__ = fn
    return wrapper


def install_in_xtreadle(shell):
    """Called once by xtreadle (through treadle.kernel_support), after xeus-python built the
    IPython shell."""
    import _treadle_kernel as kernel  # deliberate: exists only inside xtreadle

    sys.stdout = KernelStream("stdout", kernel)
    sys.stderr = KernelStream("stderr", kernel)
    flush = kernel.flush_now
    # Queued text goes out before anything xeus publishes, so a cell's output keeps its order.
    pub = shell.display_pub
    pub.publish_display_data = _flush_first(pub.publish_display_data, flush)
    pub.clear_output = _flush_first(pub.clear_output, flush)
    hook = shell.displayhook
    hook.publish_execution_result = _flush_first(hook.publish_execution_result, flush)

    def _showtraceback(etype, evalue, stb):
        # xeus-python keeps str(etype), "<class 'ValueError'>", as the error's name.
        flush()
        shell.last_error = [getattr(etype, "__name__", str(etype)), str(evalue), stb]
    shell._showtraceback = _showtraceback  # private-ok: xeus-python reads its error from this hook
    shell_exit.install(shell)

    address = kernel.server_address()
    if address is None:
        print("treadle: the kernel's server did not start; treadle.Client(address) still works",
              file=sys.__stderr__)
        return
    _install(Session(address, "embedded in this kernel", track=kernel.track_process,
                     untrack=kernel.untrack_process), shell)


def listen_host():
    """The address the kernel's server listens on: $TREADLE_KERNEL_HOST, else 127.0.0.1."""
    return os.environ.get("TREADLE_KERNEL_HOST", "").strip() or "127.0.0.1"


def install_in_ipython(shell):
    """``%load_ext treadle`` in a kernel other than xtreadle: a server in this process."""
    with _session_lock:
        if _session is not None:
            return _session
    # Only warnings and errors, unless $TREADLE_LOG asks for more; and to the kernel's own stderr,
    # as xtreadle's server writes them: ipykernel's fd 2 feeds whichever cell runs or ran last
    # (its stderr's fileno() is the kernel's). A lost worker is told in a cell by the cell
    # tracker, once, where the user looks (lost_worker_notices).
    engine.set_log_level(os.environ.get("TREADLE_LOG", "warn"))
    try:
        engine.set_log_fd(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError, RuntimeError, io.UnsupportedOperation):
        pass   # no descriptor of its own: fd 2 is the kernel's stderr then
    server = engine.Server(host=listen_host(), port=0)
    server.start()
    s = Session((server.host, server.port), "in this process", server=server)
    _install(s, shell)
    atexit.register(shutdown)
    return s


def _install(s, shell):
    global _session, _tracker
    with _session_lock:
        _session = s
    # treadle.default_client() connects to this kernel's server.
    embedded_server.set_embedded_server(_default_client_address)
    if shell is not None:
        _tracker = CellTracker(shell, s)
        _tracker.install()
        lineage.enable()   # remember submitted plans: %treadle graph draws them
        lineage.set_tagger(_tracker.cell_seq)


def _default_client_address():
    s = _session
    if s is None:
        return None
    s.ensure_workers()
    return s.address


def shutdown():
    """Stops what treadle started in this kernel: clients, workers, the in-process server."""
    global _session, _tracker
    with _session_lock:
        s, _session = _session, None
    tracker, _tracker = _tracker, None
    if tracker is not None:
        tracker.close()
        lineage.set_tagger(None)
    try:
        api.shutdown()
    except Exception:
        pass
    embedded_server.set_embedded_server(None)
    if s is not None:
        s.close()


# -- what cells submitted ----------------------------------------------------------------------

def tracker():
    """The CellTracker of this kernel, or None."""
    return _tracker


def publisher():
    """A CellPublisher for the cell running now (call it on the main thread, during the cell)."""
    return cell_publisher()


def cancel_all():
    """``%treadle stop``: cancels every task this kernel submitted that has not ended."""
    t = _tracker
    return t.cancel(reason="by %treadle stop") if t is not None else Cancelled(0, 0)
