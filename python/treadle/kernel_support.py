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
"""

import atexit
import ctypes
import io
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from . import _paths

_PR_SET_PDEATHSIG = 1

_session = None
_session_lock = threading.Lock()


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


def install_in_ipython(shell):
    """``%load_ext treadle`` in a kernel other than xtreadle: a server in this process."""
    with _session_lock:
        if _session is not None:
            return _session
    from . import _engine
    server = _engine.Server(host="127.0.0.1", port=0)
    server.start()
    s = Session((server.host, server.port), "in this process", server=server)
    _install(s, shell)
    atexit.register(shutdown)
    return s


def _install(s, shell):
    global _session
    from . import api
    with _session_lock:
        _session = s
    # treadle.default_client() asks this hook for the server (treadle/api.py).
    api.embedded_server_address = _default_client_address
    if shell is not None:
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
    global _session
    with _session_lock:
        s, _session = _session, None
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
        self.address = (address[0], int(address[1]))
        self.where = where               # "embedded in this kernel" / "in this process"
        self._server = server            # an in-process _engine.Server, owned here
        self._track = track or (lambda pid: None)
        self._untrack = untrack or (lambda pid: None)
        self.workers = []
        self._client = None
        self._lock = threading.RLock()
        self._logdir = None
        self._closed = False

    # -- a client for the magics (not the default client: asking for status starts nothing)

    def client(self):
        from .api import Client
        with self._lock:
            if self._client is None or self._client._loom._conn is None or not self._client._loom._conn.connected:
                self._client = Client(self.address, output=None)
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
        """Before the first submission: with no worker connected, starts one per core."""
        with self._lock:
            if self.alive_workers() or self._closed:
                return
            if self.status()["workers"]:
                return
            count = os.cpu_count() or 1
            self.start_workers(count, cpus=1)
            print("treadle: started {} local worker{} (one per core; %treadle workers N to choose)".format(
                count, "s" if count != 1 else ""))

    def stop_workers(self):
        """Stops the workers this kernel started; returns how many there were."""
        with self._lock:
            workers, self.workers = self.workers, []
        return self._stop(workers)

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
