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

What cells submit is tracked (:class:`CellTracker`): what a task prints goes to the cell that
submitted it, also after that cell finished; an interrupted cell's tasks are cancelled
(``options.cancel_on_interrupt``); ``%treadle stop`` cancels everything still running; progress
lines (:class:`treadle.widgets.progress.Progress`) update from a thread of their own.
"""

import atexit
import bisect
import collections
import ctypes
import io
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref

from . import _paths, client_hooks

_PR_SET_PDEATHSIG = 1

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
    """Called once by xtreadle, after xeus-python built the IPython shell."""
    import sys

    import _treadle_kernel as kernel

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
    shell._showtraceback = _showtraceback

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
    from . import _engine
    # The in-process server's log would land in the cells' output: only warnings and errors,
    # unless $TREADLE_LOG asks for more.
    _engine.set_log_level(os.environ.get("TREADLE_LOG", "warn"))
    server = _engine.Server(host=listen_host(), port=0)
    server.start()
    s = Session((server.host, server.port), "in this process", server=server)
    _install(s, shell)
    atexit.register(shutdown)
    return s


def _install(s, shell):
    global _session, _tracker
    from . import api
    with _session_lock:
        _session = s
    # treadle.default_client() asks this hook for the server (treadle/api.py).
    api.embedded_server_address = _default_client_address
    if shell is not None:
        _tracker = CellTracker(shell)
        _tracker.install()
        from .widgets import lineage
        lineage.enable()   # remember submitted plans: %treadle graph draws them
        from . import magics
        magics.register(shell)


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
    from . import api
    try:
        api.shutdown()
    except Exception:
        pass
    if getattr(api, "embedded_server_address", None) is _default_client_address:
        api.embedded_server_address = None
    if s is not None:
        s.close()


# -- publishing for a cell from any thread -----------------------------------------------------

class CellPublisher:
    """Sends IOPub messages (display_data, update_display_data, stream, ...) attached to the
    cell that was running when it was made, from any thread, also after that cell finished.

    In xtreadle it uses the kernel's own thread-safe channel (xeus' publishing is not
    thread-safe); in ipykernel, the kernel's IOPub socket, which is."""

    def __init__(self, send, parent):
        self._send = send
        self.parent = parent

    def publish(self, msg_type, content):
        self._send(msg_type, content, self.parent)

    def display(self, data, metadata=None, display_id=None, update=False):
        transient = {"display_id": display_id} if display_id else {}
        self.publish("update_display_data" if update else "display_data",
                     {"data": data, "metadata": metadata or {}, "transient": transient})


def cell_publisher(shell=None):
    """A CellPublisher for the cell running now: call it on the main thread, during the cell."""
    import json
    import sys
    kernel = sys.modules.get("_treadle_kernel")
    if kernel is not None:
        parent = json.loads(kernel.cell_parent())

        def send(msg_type, content, parent):
            kernel.publish(msg_type, json.dumps(content), json.dumps(parent))
        return CellPublisher(send, parent)
    if shell is None:
        from IPython import get_ipython
        shell = get_ipython()
    ipk = getattr(shell, "kernel", None)
    if ipk is None or not hasattr(ipk, "iopub_socket"):
        raise RuntimeError("not in a Jupyter kernel")
    parent = ipk.get_parent("shell") if hasattr(ipk, "get_parent") else ipk._parent_header

    def send(msg_type, content, parent):
        ipk.session.send(ipk.iopub_socket, msg_type, content, parent=parent, ident=ipk._topic(msg_type))
    return CellPublisher(send, parent)


# -- the session: one server, the workers started from this kernel ---------------------------

class LocalWorker:
    """A treadle-worker process started by this kernel."""

    def __init__(self, proc, cpus, log_path):
        self.proc = proc
        self.cpus = cpus
        self.log_path = log_path

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self, limit=2000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-limit:].decode("utf-8", "replace").strip()
        except OSError:
            return ""


def _child_setup(die_with_parent):
    def setup():
        # The kernel blocks SIGINT in its threads; the worker must not inherit that.
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        if die_with_parent:
            try:
                ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
            except Exception:
                pass
    return setup


class Session:
    """The server this kernel uses and the local workers it started."""

    def __init__(self, address, where, server=None, track=None, untrack=None):
        host = address[0]
        # The address the server listens on (what workers elsewhere are given), and the one
        # this process connects to (loopback when the server listens on every address).
        self.listen_address = (host, int(address[1]))
        self.address = ("127.0.0.1" if host in ("", "*", "0.0.0.0") else "::1" if host == "::" else host,
                        int(address[1]))
        self.where = where               # "embedded in this kernel" / "in this process"
        self._server = server            # an in-process _engine.Server, owned here
        self._track = track or (lambda pid: None)
        self._untrack = untrack or (lambda pid: None)
        self.workers = []
        self.remote = []                 # RemoteWorkers (treadle.remote) started from this kernel
        self._client = None
        self._lock = threading.RLock()
        self._logdir = None
        self._closed = False
        self._said_no_workers = False
        self._monitors = {}              # server address -> ProgressMonitor

    # -- a client for the magics (not the default client: asking for status starts nothing)

    def client(self):
        # A HyperLoom client: a treadle.Client would become the default client if it came first.
        from .loom.client import Client
        with self._lock:
            if self._client is None or self._client._conn is None or not self._client._conn.connected:
                self._client = Client(self.address[0], self.address[1], output=None)
            return self._client

    def status(self):
        return self.client().status()

    # -- workers

    def alive_workers(self):
        with self._lock:
            self.workers = [w for w in self.workers if w.alive() or self._reap(w)]
            return list(self.workers)

    def _reap(self, worker):
        self._untrack(worker.pid)
        return False

    def start_workers(self, count, cpus=1, timeout=30.0):
        """Starts ``count`` workers with ``cpus`` cpus each and waits until they are connected;
        returns the new LocalWorkers."""
        if count < 1:
            raise ValueError("the number of workers must be at least 1")
        if cpus < 1:
            raise ValueError("--cpus must be at least 1")
        program = _paths.program("treadle-worker")
        with self._lock:
            if self._closed:
                raise RuntimeError("treadle was shut down in this kernel")
            before = len(self.status()["workers"])
            # A worker dies with the thread that started it (PR_SET_PDEATHSIG): only the main
            # thread lives as long as the kernel.
            on_main = threading.current_thread() is threading.main_thread()
            started = []
            for _ in range(count):
                log_path = os.path.join(self._log_dir(), "worker-{}.log".format(len(self.workers) + len(started) + 1))
                with open(log_path, "wb") as log:
                    proc = subprocess.Popen(
                        [program, "{}:{}".format(*self.address), "--cpus", str(cpus)],
                        stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                        start_new_session=True, preexec_fn=_child_setup(on_main))
                self._track(proc.pid)
                started.append(LocalWorker(proc, cpus, log_path))
            self.workers.extend(started)
            try:
                self._wait_connected(before + count, started, timeout)
            except BaseException:
                self._stop(started)
                raise
            return started

    def _wait_connected(self, expected, started, timeout):
        deadline = time.monotonic() + timeout
        while True:
            connected = len(self.status()["workers"])
            if connected >= expected:
                return
            dead = [w for w in started if not w.alive()]
            if dead:
                w = dead[0]
                tail = w.log_tail()
                raise RuntimeError("treadle-worker exited with code {}{}".format(
                    w.proc.returncode, ": " + tail if tail else ""))
            if time.monotonic() > deadline:
                raise TimeoutError("only {} of {} workers connected within {:.0f} s".format(
                    connected, expected, timeout))
            time.sleep(0.01)

    def ensure_workers(self):
        """Before the first submission: with no worker connected, starts the automatic ones
        (``options.auto_workers``: one per core unless configured)."""
        with self._lock:
            if self.alive_workers() or self._closed:
                return
            if self.status()["workers"]:
                return
            count = options.auto_worker_count()
            if not count:
                if not self._said_no_workers:
                    self._said_no_workers = True
                    print("treadle: no workers are connected and auto_workers is off: tasks wait until some "
                          "connect (%treadle workers N)")
                return
            self.start_workers(count, cpus=1)
            how = "one per core" if options.auto_workers == "auto" else "auto_workers = {}".format(count)
            print("treadle: started {} local worker{} ({}; %treadle workers N to choose)".format(
                count, "s" if count != 1 else "", how))

    def stop_workers(self):
        """Stops the workers this kernel started, here and on other hosts; returns how many
        there were here (``stop_remote_workers`` tells the others)."""
        with self._lock:
            workers, self.workers = self.workers, []
        self.stop_remote_workers()
        return self._stop(workers)

    def stop_remote_workers(self):
        """Stops the workers started on other hosts; returns how many there were."""
        with self._lock:
            remote, self.remote = self.remote, []
        count = 0
        for r in remote:
            count += sum(n for _, n in r.hosts)
            self._stop_remote(r)
        return count

    def start_remote_workers(self, hosts, cpus=1, python="/usr/bin/python3", ssh_args=()):
        """Starts workers on other hosts over ssh (treadle.remote), connected to this kernel's
        server; returns the RemoteWorkers."""
        from . import remote as _remote
        with self._lock:
            if self._closed:
                raise RuntimeError("treadle was shut down in this kernel")
            started = _remote.start_remote_workers(self.listen_address, hosts, cpus=cpus, python=python,
                                                   ssh_args=ssh_args)
            self.remote.append(started)
            for p in started.processes:
                self._track(p.pid)  # ssh leads its own process group: the kernel ends it at exit
            return started

    def _stop_remote(self, remote):
        try:
            remote.stop()
        finally:
            for p in remote.processes:
                self._untrack(p.pid)

    def monitor(self, address=None):
        """The ProgressMonitor of the server at ``address`` (this kernel's by default)."""
        address = tuple(address or self.address)
        with self._lock:
            m = self._monitors.get(address)
            if m is None:
                m = self._monitors[address] = ProgressMonitor(address)
            return m

    def _stop(self, workers):
        with self._lock:
            self.workers = [w for w in self.workers if w not in workers]
        for w in workers:
            if w.alive():
                try:
                    w.proc.terminate()
                except OSError:
                    pass
        deadline = time.monotonic() + 5
        for w in workers:
            try:
                w.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(w.pid, signal.SIGKILL)  # with its executors
                except OSError:
                    pass
                w.proc.wait()
            self._untrack(w.pid)
        return len(workers)

    def _log_dir(self):
        if self._logdir is None:
            self._logdir = tempfile.mkdtemp(prefix="treadle-kernel-{}-".format(os.getpid()))
        return self._logdir

    def close(self):
        with self._lock:
            self._closed = True
            client, self._client = self._client, None
            monitors, self._monitors = list(self._monitors.values()), {}
        for m in monitors:
            m.close()
        if client is not None:
            try:
                client.close()
            except Exception:
                pass
        self.stop_workers()
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._logdir is not None:
            shutil.rmtree(self._logdir, ignore_errors=True)
            self._logdir = None


# -- options (%treadle config) -------------------------------------------------------------------

_ON = {"on", "true", "yes", "1"}
_OFF = {"off", "false", "no", "0"}


class Options:
    """treadle's settings in this kernel; ``%treadle config`` shows and sets them."""

    HELP = collections.OrderedDict([
        ("auto_workers", "local workers the first submission starts when none is connected: "
                         "auto (one per core), a number, or off"),
        ("cancel_on_interrupt", "interrupting a cell also cancels the tasks it submitted that still run "
                                "(on/off)"),
        ("progress_interval", "seconds between two updates of a progress line"),
    ])
    CHOICES = {"auto_workers": ["auto", "off", "1", "2", "4", "8"], "cancel_on_interrupt": ["on", "off"],
               "progress_interval": ["0.1", "0.25", "1"]}

    def __init__(self):
        self.reset()

    def reset(self):
        self.auto_workers = "auto"          # "auto", "off" or a positive int
        self.cancel_on_interrupt = True
        self.progress_interval = 0.25

    def auto_worker_count(self):
        if self.auto_workers == "auto":
            return os.cpu_count() or 1
        if self.auto_workers == "off":
            return 0
        return int(self.auto_workers)

    def set(self, key, text):
        """Sets an option from its text; ValueError (one line) when the key or value is wrong."""
        text = str(text).strip()
        low = text.lower()
        if key == "auto_workers":
            if low in ("auto", "off"):
                self.auto_workers = low
            elif low == "0":
                self.auto_workers = "off"
            elif low.isdigit():
                self.auto_workers = int(low)
            else:
                raise ValueError("auto_workers is auto, off or a number of workers, not {!r}".format(text))
        elif key == "cancel_on_interrupt":
            if low in _ON:
                self.cancel_on_interrupt = True
            elif low in _OFF:
                self.cancel_on_interrupt = False
            else:
                raise ValueError("cancel_on_interrupt is on or off, not {!r}".format(text))
        elif key == "progress_interval":
            try:
                value = float(text)
            except ValueError:
                value = -1.0
            if not 0 < value <= 60:
                raise ValueError("progress_interval is a number of seconds (0 to 60], not {!r}".format(text))
            self.progress_interval = value
        else:
            raise ValueError("unknown option {!r}; the options are {}".format(key, ", ".join(self.HELP)))

    def shown(self, key):
        value = getattr(self, key)
        if isinstance(value, bool):
            return "on" if value else "off"
        return str(value)

    def __repr__(self):
        width = max(len("{} = {}".format(k, self.shown(k))) for k in self.HELP)
        lines = ["treadle options (%treadle config KEY=VALUE to change one):"]
        for k, what in self.HELP.items():
            lines.append("  {}  {}".format("{} = {}".format(k, self.shown(k)).ljust(width), what))
        return "\n".join(lines)


options = Options()


# -- what cells submitted ----------------------------------------------------------------------

def tracker():
    """The CellTracker of this kernel, or None."""
    return _tracker


class _Cell:
    """What one cell submitted: weak references to its futures (dropping them still releases
    them), its progress lines, and how to publish to it."""

    __slots__ = ("seq", "publisher", "native", "loom", "progress", "__weakref__")

    def __init__(self, seq, publisher):
        self.seq = seq
        self.publisher = publisher
        self.native = []     # treadle.Future (native API)
        self.loom = []       # HyperLoom futures of clients that are not a treadle.Client's
        self.progress = []   # Progress lines shown in this cell

    def alive(self):
        return any(r() is not None for r in itertools.chain(self.native, self.loom)) or any(
            not p.finished for p in self.progress)


class _Intervals:
    """Task ids of one client connection -> the cell that submitted them (ids only grow)."""

    __slots__ = ("starts", "ends", "cells")

    def __init__(self):
        self.starts, self.ends, self.cells = [], [], []

    def add(self, start, end, cell):
        if self.cells and self.cells[-1] is cell and self.ends[-1] < start:
            self.ends[-1] = end  # nothing of another cell lies between (ids only grow)
            return
        i = bisect.bisect_right(self.starts, start)
        self.starts.insert(i, start)
        self.ends.insert(i, end)
        self.cells.insert(i, cell)

    def find(self, task):
        i = bisect.bisect_right(self.starts, task) - 1
        if i >= 0 and task <= self.ends[i]:
            return self.cells[i]
        # A task made on the server (a redirection's plan, an expanded dslice): the cell that
        # submitted last on this connection is the best guess.
        return self.cells[-1] if self.cells else None

    def keep_only(self, alive):
        keep = [i for i, c in enumerate(self.cells) if c in alive]
        self.starts = [self.starts[i] for i in keep]
        self.ends = [self.ends[i] for i in keep]
        self.cells = [self.cells[i] for i in keep]


class _TrackedConnection:
    """Stands in for a HyperLoom client's ``_engine.Connection`` so the output poller and
    close() take turns (polling a connection while it is closed is not safe)."""

    def __init__(self, conn):
        self._conn = conn
        self.lock = threading.Lock()
        for name in ("submit", "wait", "fetch", "release", "status", "watch", "settled", "set_output_handler"):
            setattr(self, name, getattr(conn, name))

    @property
    def connected(self):
        return self._conn.connected

    def poll_output(self):
        with self.lock:
            self._conn.poll_output()

    def close(self):
        with self.lock:
            self._conn.close()

    def __getattr__(self, name):
        return getattr(self._conn, name)


class _Router:
    """The output handler of a client connection: hands what tasks print to the tracker."""

    __slots__ = ("tracker", "client")

    def __init__(self, tracker, client):
        self.tracker = tracker
        self.client = weakref.ref(client)

    def __call__(self, items):
        self.tracker.route(self.client(), items)


class WaitProgress:
    """The progress line of a cell blocked on futures (a gather, a result()): it appears only
    when the wait lasts over ``AFTER`` seconds, so quick waits stay quiet; the monitor's thread
    follows the tasks, and the line says how the wait ended."""

    AFTER = 0.5

    def __init__(self, cell, futures):
        self.cell = cell
        self.futures = futures
        self.progress = None
        self._lock = threading.Lock()
        self._ended = False
        self._timer = None

    def __enter__(self):
        self._began = time.monotonic()
        self._timer = threading.Timer(self.AFTER, self._show)
        self._timer.daemon = True
        self._timer.start()
        return self

    def _show(self):
        with self._lock:
            if self._ended:
                return
            n = len(self.futures)
            progress = Progress("waiting for {} task{}".format(n, _s(n)), n, publisher=self.cell.publisher)
            progress.started = self._began   # the rate counts from the start of the wait
            host, port = self.futures[0].client.address
            address = ("127.0.0.1" if host == "localhost" else host, int(port))
            try:
                progress.publish()
                _session.monitor(address).track(progress, [(f.task_id, f) for f in self.futures])
            except Exception:
                return   # no line: the wait goes on all the same
            self.cell.progress.append(progress)
            self.progress = progress

    def __exit__(self, etype, error, tb):
        with self._lock:
            self._ended = True
            self._timer.cancel()
            progress = self.progress
        if progress is not None:
            if etype is None:
                progress.complete()
            elif issubclass(etype, KeyboardInterrupt):
                progress.cancelled()
            elif issubclass(etype, GeneratorExit):
                progress.released()   # a map left before its end: its futures are released
            else:
                progress.complete(failed=True)
        return False


class CellTracker(client_hooks.ClientListener):
    """Knows which cell submitted which task: routes task output there (also after the cell
    finished), cancels a cell's tasks when it is interrupted, and everything for %treadle stop.

    It listens to the clients (``treadle.client_hooks``: HyperLoom clients, the native API's
    included, and the native API's calls, their sending and the waits on them) and to IPython's
    pre_run_cell / post_run_cell events.
    """

    _PARTIAL_AGE = 0.5     # seconds an unfinished line waits for its end before it is shown
    _POLL = 0.05           # seconds between two looks for output of tasks whose cell is idle

    def __init__(self, shell):
        self.shell = shell
        self._lock = threading.RLock()
        self._seq = 0
        self._running = None          # seq of the cell running now
        self._current = None          # its _Cell, made at its first submission
        self._last = None             # the _Cell that submitted last
        self._cells = []              # _Cells with futures that may still be alive
        self._intervals = weakref.WeakKeyDictionary()   # loom client -> _Intervals
        self._pending_cell = {}       # id(native future not sent yet) -> _Cell
        self._partial = {}            # (id(client), task, stream) -> [cell, text, since]
        self._polled = weakref.WeakSet()
        self._poller = None
        self._stopping = threading.Event()
        self._xtreadle = "_treadle_kernel" in sys.modules
        self._last_prune = time.monotonic()

    # -- installation

    def install(self):
        events = self.shell.events
        events.register("pre_run_cell", self._pre_run_cell)
        events.register("post_run_cell", self._post_run_cell)
        client_hooks.add(self)

    def close(self):
        self._stopping.set()
        client_hooks.remove(self)
        try:
            self.shell.events.unregister("pre_run_cell", self._pre_run_cell)
            self.shell.events.unregister("post_run_cell", self._post_run_cell)
        except Exception:
            pass
        poller = self._poller
        if poller is not None and poller is not threading.current_thread():
            poller.join(2.0)

    def client_created(self, client):
        """A HyperLoom client was made: route its output."""
        conn = client._conn
        if conn is None or isinstance(conn, _TrackedConnection):
            return
        tracked = client._conn = _TrackedConnection(conn)
        if getattr(client, "_printer", None) is not None:  # output="print": show it in the cells
            tracked.set_output_handler(_Router(self, client))
            self._polled.add(client)
            self._start_poller()

    # -- cells

    def _pre_run_cell(self, info=None):
        self._seq += 1
        self._running = self._seq

    def _post_run_cell(self, result=None):
        cell = self._current if self._current is not None and self._current.seq == self._running else None
        self._running = None
        error = getattr(result, "error_in_exec", None)
        if cell is not None and isinstance(error, KeyboardInterrupt) and options.cancel_on_interrupt:
            count = self.cancel([cell])
            if count:
                print("treadle: cancelled {} task{} of this cell (%treadle config cancel_on_interrupt=off "
                      "keeps them running)".format(count, _s(count)), file=sys.stderr)

    def current(self):
        """The _Cell that what is submitted now belongs to: the running cell on the main
        thread, else the cell that submitted last."""
        if self._running is not None and threading.current_thread() is threading.main_thread():
            cell = self._current
            if cell is None or cell.seq != self._running:
                cell = _Cell(self._running, self._publisher())
                with self._lock:
                    self._current = cell
                    self._cells.append(cell)
            self._last = cell
            return cell
        return self._last

    def _publisher(self):
        try:
            return cell_publisher(self.shell)
        except Exception:
            return None

    # -- submissions (the clients' hooks)

    def native_calling(self, client):
        """Before a native call: the cell it belongs to (marks the client's connection)."""
        loom = client._loom
        if not getattr(loom, "_treadle_native", False):
            loom._treadle_native = True
        return self.current()

    def native_called(self, cell, future):
        if cell is None:
            return
        cell.native.append(weakref.ref(future))
        if future._loom is None:
            self._pending_cell[id(future)] = cell

    def native_flushed(self, client, pending):
        """Native futures were sent: their task ids now map to the cells that made them."""
        fallback = self.current()
        with self._lock:
            intervals = self._intervals.get(client._loom)
            if intervals is None:
                intervals = self._intervals[client._loom] = _Intervals()
            run = None
            for f in pending:
                cell = self._pending_cell.pop(id(f), None) or fallback
                loom = f._loom
                if loom is None or cell is None:
                    continue
                task = loom.task_id
                if run is not None and run[2] is cell:
                    run[1] = task  # ids between belong to this plan (its functions)
                    continue
                if run is not None:
                    intervals.add(*run)
                run = [task, task, cell]
            if run is not None:
                intervals.add(*run)

    def plan_submitted(self, client, plan, tasks, futures):
        """A HyperLoom client submitted a plan (the native API's are recorded by native_flushed())."""
        if getattr(client, "_treadle_native", False):
            return
        cell = self.current()
        if cell is None:
            return
        with self._lock:
            if plan.count > 0:
                intervals = self._intervals.get(client)
                if intervals is None:
                    intervals = self._intervals[client] = _Intervals()
                intervals.add(plan.base, plan.base + plan.count - 1, cell)
            cell.loom.extend(weakref.ref(f) for f in futures)

    def waiting(self, client, futures):
        """A cell blocks on native futures: a progress line appears if the wait lasts."""
        if threading.current_thread() is not threading.main_thread() or self._running is None:
            return None
        cell = self.current()
        if cell is None or cell.publisher is None or _session is None:
            return None
        return WaitProgress(cell, futures)

    # -- output

    def route(self, client, items):
        """What tasks printed: to the cells that submitted them, each line marked with its task."""
        out = collections.OrderedDict()   # (cell, stream) -> [text]
        now = time.monotonic()
        with self._lock:
            intervals = self._intervals.get(client) if client is not None else None
            for task, label, stream, data in items:
                cell = intervals.find(task) if intervals is not None else self._last
                text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
                prefix = "[task {}{}] ".format(task, " " + label if label else "")
                if stream.startswith("log:"):
                    level = stream[4:].upper()
                    out.setdefault((cell, "stderr"), []).append(
                        "".join("{}{}: {}\n".format(prefix, level, line) for line in text.splitlines()))
                    continue
                name = "stderr" if stream == "stderr" else "stdout"
                key = (id(client), task, name)
                held = self._partial.pop(key, None)
                if held is not None:
                    text = held[1] + text
                lines = text.split("\n")
                if lines[-1]:
                    self._partial[key] = [cell, lines[-1], held[2] if held is not None else now, prefix]
                done = "".join(prefix + line + "\n" for line in lines[:-1])
                if done:
                    out.setdefault((cell, name), []).append(done)
        for (cell, name), texts in out.items():
            self._emit(cell, name, "".join(texts))

    def _flush_partials(self, older_than):
        now = time.monotonic()
        out = []
        with self._lock:
            for key, (cell, text, since, prefix) in list(self._partial.items()):
                if now - since >= older_than:
                    del self._partial[key]
                    out.append((cell, key[2], prefix + text + "\n"))
        for cell, name, text in out:
            self._emit(cell, name, text)

    def _emit(self, cell, stream, text):
        if not text:
            return
        on_main = threading.current_thread() is threading.main_thread()
        if cell is None or cell.publisher is None or (cell.seq == self._running and (self._xtreadle or on_main)):
            # The running cell: through the kernel's own stream, in order with what it prints
            # (xtreadle's stream takes writes from any thread; ipykernel's, only the main one's).
            target = sys.stderr if stream == "stderr" else sys.stdout
            try:
                target.write(text)
                target.flush()
            except Exception:
                pass
            return
        try:
            cell.publisher.publish("stream", {"name": stream, "text": text})
        except Exception:
            pass

    def _start_poller(self):
        with self._lock:
            if self._poller is not None or self._stopping.is_set():
                return
            self._poller = threading.Thread(target=self._poll, name="treadle-output", daemon=True)
            self._poller.start()

    def _poll(self):
        # Tasks go on printing after their cell finished, when nothing else asks the connection.
        while not self._stopping.wait(self._POLL):
            for client in list(self._polled):
                conn = client._conn
                if isinstance(conn, _TrackedConnection):
                    try:
                        conn.poll_output()
                    except Exception:
                        pass
            try:
                self._flush_partials(self._PARTIAL_AGE)
                if time.monotonic() - self._last_prune > 5:
                    self._prune()
            except Exception:
                pass

    def _prune(self):
        self._last_prune = time.monotonic()
        with self._lock:
            self._cells = [c for c in self._cells if c.alive() or c is self._current or c is self._last]
            alive = set(self._cells)
            for intervals in list(self._intervals.values()):
                intervals.keep_only(alive)

    # -- cancelling

    def cells(self):
        with self._lock:
            return list(self._cells)

    def cancel(self, cells=None):
        """Releases the futures of ``cells`` (every cell's by default) whose tasks have not
        ended: the server cancels them (a running Python task's executor is replaced).
        Returns how many there were."""
        cells = self.cells() if cells is None else list(cells)
        native = collections.OrderedDict()
        loom = collections.OrderedDict()
        for cell in cells:
            for ref in cell.native:
                f = ref()
                if f is not None and not f._has_value:
                    native.setdefault(f._client, []).append(f)
            for ref in cell.loom:
                f = ref()
                if f is not None and not f._released:
                    loom.setdefault(f.client, []).append(f)
        count = 0
        for client, futures in native.items():
            count += _cancel_native(client, futures)
        for client, futures in loom.items():
            count += _cancel_loom(client, futures)
        for cell in cells:
            for p in list(cell.progress):
                p.cancelled()
        return count


def _cancel_native(client, futures):
    try:
        client.flush()
        conn = client._loom._conn
        if conn is None:
            return 0
        settled = getattr(client, "_settled", {})
        if hasattr(client, "_take_settled"):
            client._take_settled(conn.settled(0.0))
        running = [f for f in futures
                   if f._loom is not None and not f._loom.released and f._loom.task_id not in settled]
        client.release(running)
        return len(running)
    except Exception:
        return 0


def _cancel_loom(client, futures, timeout=0.2):
    # Which have ended? A watch is answered at once for those.
    try:
        conn = client._conn
        if conn is None:
            return 0
        ids = {f.task_id for f in futures}
        conn.watch(sorted(ids))
        ended = set()
        deadline = time.monotonic() + timeout
        while ended != ids and time.monotonic() < deadline:
            finished, failed = conn.settled(0.05)
            ended.update(finished)
            ended.update(failed)
        running = [f for f in futures if f.task_id not in ended]
        client.release(running)
        return len(running)
    except Exception:
        return 0


def cancel_all():
    """``%treadle stop``: cancels every task this kernel submitted that has not ended."""
    t = _tracker
    return t.cancel() if t is not None else 0


def _s(n):
    return "" if n == 1 else "s"


# -- progress lines: treadle.widgets.progress (kept importable from here) ---------------------

from .widgets.progress import Progress, ProgressMonitor  # noqa: E402,F401
