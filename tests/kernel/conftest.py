"""The kernel tests drive real kernels through jupyter_client: the treadle kernel (xtreadle,
kernelspec "treadle" installed under prefix/share/jupyter) and Debian's ipykernel ("python3")
with %load_ext treadle. tests/conftest.py already put the installed package on PYTHONPATH and
a random $TREADLE_SECRET in the environment, which the kernels inherit."""

import os
import re
import threading
import time

import psutil
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
JUPYTER_DIR = os.path.join(ROOT, "prefix", "share", "jupyter")
KERNEL_DIR = os.path.join(JUPYTER_DIR, "kernels", "treadle")

os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in [JUPYTER_DIR, os.environ.get("JUPYTER_PATH")] if p)

if not os.path.exists(os.path.join(KERNEL_DIR, "kernel.json")):
    pytest.skip("the treadle kernelspec is not installed (./setup.sh build)", allow_module_level=True)


class Kernel:
    """A kernel started from its kernelspec, with a blocking client. ``start`` goes to
    KernelManager.start_kernel (and on to Popen: e.g. preexec_fn)."""

    def __init__(self, name="treadle", **start):
        from jupyter_client.manager import KernelManager
        self.km = KernelManager(kernel_name=name)
        self.km.start_kernel(**start)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=30)

    @property
    def pid(self):
        return self.km.provisioner.pid

    def run(self, code, timeout=30, interrupt_after=None, stop_on_error=True, interrupt_when=None):
        """Executes code; returns (reply content, outputs, seconds). Outputs are tuples:
        ("stdout"|"stderr", text), (msg_type, data) for results and displays, ("error", ename, evalue).
        The kernel is interrupted ``interrupt_after`` seconds in, or once ``interrupt_when()`` is true."""
        outputs = []

        def hook(msg):
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                outputs.append((content["name"], content["text"]))
            elif kind in ("execute_result", "display_data"):
                outputs.append((kind, content["data"]))
            elif kind == "error":
                outputs.append(("error", content["ename"], content["evalue"]))

        timer = None
        if interrupt_after is not None:
            timer = threading.Timer(interrupt_after, self.km.interrupt_kernel)
            timer.start()
        elif interrupt_when is not None:
            timer = InterruptWhen(interrupt_when, self.km.interrupt_kernel)
        start = time.monotonic()
        try:
            # stop_on_error=False: else ipykernel aborts a request sent right after an error
            # (a UsageError is one there).
            reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=hook,
                                                stop_on_error=stop_on_error)
        finally:
            if timer is not None:
                timer.cancel()
        return reply["content"], outputs, time.monotonic() - start

    def collect(self, code, until=None, timeout=30):
        """Executes code and returns the IOPub messages answering it, also those that come
        after the cell finished (jupyter_client keeps them; nbclient would not): reads until
        ``until(messages)`` is true (by default: until the kernel is idle again)."""
        msg_id = self.kc.execute(code, stop_on_error=False)
        return msg_id, self.follow(msg_id, until, timeout)

    def follow(self, msg_id, until=None, timeout=30, messages=None):
        """Reads IOPub messages answering ``msg_id`` (others are dropped) until
        ``until(messages)``; returns them (``messages`` extended, if given)."""
        if until is None:
            until = went_idle
        messages = [] if messages is None else messages
        deadline = time.monotonic() + timeout
        while not until(messages):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("waited {:.0f} s; got {}".format(timeout, [_shown(m) for m in messages]))
            try:
                msg = self.kc.get_iopub_msg(timeout=min(left, 0.5))
            except Exception:
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                messages.append(msg)
        return messages

    def processes(self):
        """The kernel's descendants (workers, executors)."""
        try:
            return psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def shutdown(self):
        if self.km.has_kernel:
            self.kc.stop_channels()
            self.km.shutdown_kernel()


class InterruptWhen(threading.Thread):
    """Calls ``interrupt()`` once ``condition()`` is true (checked every 10 ms) unless cancelled
    first: a cell is interrupted at the moment a test needs, whatever the machine's load."""

    def __init__(self, condition, interrupt):
        super().__init__(daemon=True)
        self.condition, self.interrupt = condition, interrupt
        self.cancelled = threading.Event()
        self.start()

    def run(self):
        while not self.cancelled.wait(0.01):
            if self.condition():
                self.interrupt()
                return

    def cancel(self):
        self.cancelled.set()


def went_idle(messages):
    return any(m["msg_type"] == "status" and m["content"]["execution_state"] == "idle" for m in messages)


def streams(messages, name="stdout"):
    return "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream" and m["content"]["name"] == name)


def text(outputs, stream="stdout"):
    return "".join(o[1] for o in outputs if o[0] == stream)


def results(outputs):
    return [o[1] for o in outputs if o[0] in ("execute_result", "display_data")]


def errors(outputs):
    return [o for o in outputs if o[0] == "error"]


def alive(procs):
    out = []
    for p in procs:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


@pytest.fixture
def kernel():
    k = Kernel("treadle")
    yield k
    k.shutdown()


def kernel_with_treadle(name):
    """A ``name`` kernel where %treadle works: the treadle kernel, or ipykernel ("python3") after
    %load_ext treadle."""
    k = Kernel(name)
    if name == "python3":
        reply, outputs, _ = k.run("%load_ext treadle")
        if reply["status"] != "ok":
            k.shutdown()
        assert reply["status"] == "ok", outputs
    return k


@pytest.fixture(params=["treadle", "python3"])
def any_kernel(request):
    """The treadle kernel, then Debian's ipykernel with %load_ext treadle."""
    k = kernel_with_treadle(request.param)
    yield k
    k.shutdown()


@pytest.fixture
def ipykernel():
    k = Kernel("python3")
    yield k
    k.shutdown()


STARTED = re.compile(r"treadle: started (\d+) local workers?")


def _shown(message):
    """A message's type, with its text where it has one (what a timed-out wait saw)."""
    content = message["content"]
    text = content.get("text") or content.get("data", {}).get("text/plain") or content.get("ename")
    return message["msg_type"] if text is None else "{}: {!r}".format(message["msg_type"], text[:200])
