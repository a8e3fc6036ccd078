"""The kernel benchmarks: the treadle kernel (xtreadle, kernelspec "treadle") against Debian's
ipykernel (kernelspec "python3") with ``%load_ext treadle``. See bench/README.md, "The kernel".

    /usr/bin/python3 bench/kernel_bench.py [--quick] [--kernels treadle,python3] [--output FILE]

``bench/run.py`` runs it as its last part (``./setup.sh bench``, or ``--only kernel``).

For each kernel:

1. **start**: ``KernelManager.start_kernel()`` up to the first ``kernel_info_reply`` on a
   blocking client (jupyter_client), median of N fresh kernels; also the kernel's RSS then.
2. **execute "pass"**: send ``execute_request`` to the ``execute_reply`` *and* the ``idle``
   status on IOPub, one at a time, median and p90 of N, in a kernel with treadle loaded. Two
   clients: a lean one (jupyter_client's Session to sign, pyzmq sockets, one poller: what the
   kernel costs) and jupyter_client's BlockingKernelClient (what a Python caller of
   jupyter_client sees; its asyncio wrapping adds its own time).
3. **10k tasks from a cell**, after ``%treadle workers 2`` (2 local workers, 1 cpu each,
   connected to the kernel's server; executors warmed up): the cell's wall time (send to reply
   and idle), median of R runs of each cell:
   a. HyperLoom API: ``client.submit_one(tasks.array_make([tasks.const(b"x")] * 10,000)).gather()``
      through a ``treadle.loom.client.Client`` on the kernel's server;
   b. the same graph with ``%%treadle submit`` (progress line, result bound in the namespace);
   c. native API: ``list(treadle.map(square, range(10_000)))``;
   d. native API: ``treadle.gather([square(i) for i in range(10_000)])`` (``@treadle.task``).

Everything started is stopped: workers (``%treadle workers --stop``), then the kernel
(``shutdown_kernel``); the script checks that no process of a kernel is left and kills (and
reports) any that is.
"""

import argparse
import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PREFIX = os.path.join(ROOT, "prefix")


def _environment():
    """The installed package and kernelspec of ./prefix, for this process and the kernels."""
    pypath = os.path.join(PREFIX, "lib", "treadle", "python")
    jpath = os.path.join(PREFIX, "share", "jupyter")
    for var, value in (("PYTHONPATH", pypath), ("JUPYTER_PATH", jpath), ("PATH", os.path.join(PREFIX, "bin"))):
        parts = [p for p in os.environ.get(var, "").split(os.pathsep) if p]
        if value not in parts:
            os.environ[var] = os.pathsep.join([value] + parts)
    if pypath not in sys.path:
        sys.path.insert(0, pypath)
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # ipykernel's debugger warning


_environment()

import psutil  # noqa: E402
import zmq  # noqa: E402
import zmq.asyncio  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402

RESULT_PREFIX = "RESULT "
KERNELS = {"treadle": "treadle kernel (xtreadle)", "python3": "ipykernel + %load_ext treadle"}
N_TASKS = 10_000

# Targets: /work/shared/notes/peers.md (round trip <= 2 ms; the engine's own <= 10 us per built-in
# task and <= 40 us per Python task, here over a whole cell). References: the same notes.
TARGETS = {"exec_lean_median_ms": 2.0, "cell_loom": N_TASKS * 10e-6, "cell_submit_magic": N_TASKS * 10e-6,
           "cell_map": N_TASKS * 40e-6, "cell_futures": N_TASKS * 40e-6}

SETUP_LOOM = """\
import treadle
from treadle.loom.client import Client as LoomClient, tasks
loom = LoomClient(*treadle.default_client().address)
"""
CELL_LOOM = "x = loom.submit_one(tasks.array_make([tasks.const(b'x') for _ in range({n})])).gather()\n" \
            "assert len(x) == {n}"
CELL_SUBMIT_MAGIC = "%%treadle submit\nx = tasks.array_make([tasks.const(b'x') for _ in range({n})])"
SETUP_NATIVE = """\
def square(i):
    return i * i

@treadle.task
def square_task(i):
    return i * i

def warm(i):
    import time
    time.sleep(0.05)
    return i

import os as _os
_executors = set()
for _ in range(40):   # until both workers have their Python executor (as bench/workloads_treadle.py)
    _executors.update(treadle.gather([treadle.submit(lambda i: _os.getpid(), i) for i in range(8)]))
    if len(_executors) >= 2:
        break
    treadle.gather([treadle.submit(warm, i) for i in range(4)])
assert len(_executors) >= 2, _executors
"""
CELL_MAP = "x = list(treadle.map(square, range({n})))\nassert x[-1] == ({n} - 1) ** 2"
CELL_FUTURES = "x = treadle.gather([square_task(i) for i in range({n})])\nassert x[-1] == ({n} - 1) ** 2"


# ---------------------------------------------------------------------------------------------
# A lean client: jupyter_client's Session (signing), pyzmq sockets, one poller.

class LeanClient:
    def __init__(self, km, context):
        info = km.get_connection_info()
        self.session = km.session
        sep = ":" if info["transport"] == "tcp" else "-"

        def url(port):
            return "{}://{}{}{}".format(info["transport"], info["ip"], sep, port)
        self.shell = context.socket(zmq.DEALER)
        self.shell.linger = 0
        self.shell.connect(url(info["shell_port"]))
        self.iopub = context.socket(zmq.SUB)
        self.iopub.linger = 0
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self.iopub.connect(url(info["iopub_port"]))
        self.poller = zmq.Poller()
        self.poller.register(self.shell, zmq.POLLIN)
        self.poller.register(self.iopub, zmq.POLLIN)

    def close(self):
        self.shell.close(0)
        self.iopub.close(0)

    def _recv_all(self, sock):
        while True:
            _, msg = self.session.recv(sock, mode=zmq.NOBLOCK)
            if msg is None:
                return
            yield msg

    def request(self, msg_type, content, timeout=60.0):
        """Sends a request; returns (seconds to its reply and idle status, reply, IOPub messages)."""
        t0 = time.perf_counter()
        sent = self.session.send(self.shell, msg_type, content)
        msg_id = sent["header"]["msg_id"]
        reply, idle, iopub = None, False, []
        deadline = t0 + timeout
        while reply is None or not idle:
            left = deadline - time.perf_counter()
            if left <= 0:
                raise TimeoutError("no reply to {} within {:.0f} s".format(msg_type, timeout))
            events = dict(self.poller.poll(int(left * 1000) + 1))
            if self.shell in events:
                for msg in self._recv_all(self.shell):
                    if msg["parent_header"].get("msg_id") == msg_id:
                        reply = msg
            if self.iopub in events:
                for msg in self._recv_all(self.iopub):
                    if msg["parent_header"].get("msg_id") == msg_id:
                        iopub.append(msg)
                        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                            idle = True
        return time.perf_counter() - t0, reply, iopub

    def execute(self, code, timeout=120.0, check=True):
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": True}
        seconds, reply, iopub = self.request("execute_request", content, timeout)
        if check and reply["content"]["status"] != "ok":
            raise RuntimeError("cell failed: {}\n{}".format(code.splitlines()[0], _outputs(reply, iopub)))
        if check:
            stderr = "".join(m["content"]["text"] for m in iopub
                             if m["msg_type"] == "stream" and m["content"]["name"] == "stderr")
            if "Error" in stderr:
                raise RuntimeError("cell failed: {}\n{}".format(code.splitlines()[0], stderr))
        return seconds, reply, iopub

    def sync(self, timeout=30.0):
        """Until IOPub delivers: a SUB socket misses what is published before its subscription
        reached the kernel, so kernel_info requests are sent until their 'idle' comes back."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.request("kernel_info_request", {}, timeout=1.0)
                return
            except TimeoutError:
                pass
        raise TimeoutError("IOPub did not deliver within {:.0f} s".format(timeout))


def _outputs(reply, iopub):
    lines = []
    for m in iopub:
        c = m["content"]
        if m["msg_type"] == "stream":
            lines.append(c["text"])
        elif m["msg_type"] == "error":
            lines.append("{}: {}".format(c["ename"], c["evalue"]))
    if reply and reply["content"].get("status") == "error":
        lines.append("{}: {}".format(reply["content"].get("ename"), reply["content"].get("evalue")))
    return "".join(lines)[-2000:]


def stream_text(iopub, name="stdout"):
    return "".join(m["content"]["text"] for m in iopub if m["msg_type"] == "stream" and m["content"]["name"] == name)


# ---------------------------------------------------------------------------------------------
# Kernels: started, and stopped with everything below them.

class Kernel:
    def __init__(self, name, context):
        self.name = name
        self.km = KernelManager(kernel_name=name)
        self.kc = None
        self.pid = None
        self.context = context

    def start(self):
        # The kernel's own output (xeus prints a banner) goes to a file, shown if it fails.
        self.log = tempfile.TemporaryFile()
        self.km.start_kernel(stdout=self.log, stderr=subprocess.STDOUT)
        self.pid = self.km.provisioner.pid

    def log_tail(self, limit=1500):
        try:
            self.log.seek(0)
            return self.log.read().decode(errors="replace")[-limit:]
        except (AttributeError, OSError, ValueError):
            return ""

    def tree(self):
        try:
            p = psutil.Process(self.pid)
            return [p] + p.children(recursive=True)
        except (psutil.Error, TypeError):
            return []

    def stop(self):
        """Shuts the kernel down (politely: it stops its workers), then checks that nothing of it
        is left; returns the command lines of leftovers (killed)."""
        seen = {p.pid: p for p in self.tree()}
        if self.kc is not None:
            try:
                self.kc.stop_channels()
            except Exception:
                pass
            self.kc = None
        if self.km.has_kernel:
            try:
                self.km.shutdown_kernel(now=False)
            except Exception:
                self.km.shutdown_kernel(now=True)
        for p in self.tree():
            seen.setdefault(p.pid, p)
        deadline = time.monotonic() + 8
        left = []
        while True:
            left = [p for p in seen.values() if _running(p)]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        names = []
        for p in left:
            try:
                names.append("{} {}".format(p.pid, " ".join(p.cmdline())[:100]))
                p.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(left, timeout=5)
        if getattr(self, "log", None) is not None:
            self.log.close()
        return names


def _running(p):
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


_live = []   # kernels to stop on the way out (SIGTERM, Ctrl-C, an error)


def stop_live():
    left = []
    while _live:
        left += _live.pop().stop()
    return left


# ---------------------------------------------------------------------------------------------
# The measurements

def start_once(name):
    """Seconds from start_kernel() to the first kernel_info_reply, on a fresh kernel."""
    # 10 ms between connection attempts (ZeroMQ's default is 100 ms, which would round the
    # figure up to the next 100 ms: the client connects before the kernel listens).
    context = zmq.asyncio.Context()
    context.setsockopt(zmq.RECONNECT_IVL, 10)
    k = Kernel(name, context)
    _live.append(k)
    try:
        t0 = time.perf_counter()
        k.start()
        launched = time.perf_counter() - t0
        k.kc = k.km.client(context=context)
        k.kc.start_channels(shell=True, iopub=False, stdin=False, hb=False, control=False)
        msg_id = k.kc.kernel_info()
        while True:
            left = 60 - (time.perf_counter() - t0)
            if left <= 0:
                raise TimeoutError("no kernel_info_reply from {} within 60 s".format(name))
            msg = k.kc.get_shell_msg(timeout=left)
            if msg["parent_header"].get("msg_id") == msg_id:
                break
        seconds = time.perf_counter() - t0
        try:
            rss = psutil.Process(k.pid).memory_info().rss
        except psutil.Error:
            rss = None
        return {"start_s": seconds, "launch_s": launched, "rss_bytes": rss,
                "implementation": msg["content"].get("implementation")}
    finally:
        _live.remove(k)
        left = k.stop()
        context.destroy(linger=0)
        if left:
            raise RuntimeError("processes left by a {} kernel: {}".format(name, "; ".join(left)))


def measure_starts(names, n, log):
    """n starts of each kernel, alternating (both see the same machine load)."""
    runs = {name: [] for name in names}
    for _ in range(n):
        for name in names:
            runs[name].append(start_once(name))
    out = {}
    for name in names:
        r = runs[name]
        out[name] = {"start_s": statistics.median(x["start_s"] for x in r),
                     "launch_s": statistics.median(x["launch_s"] for x in r),
                     "rss_bytes": statistics.median(x["rss_bytes"] or 0 for x in r), "runs": r}
        log("    {:<8} start: median {:.3f} s ({})".format(name, out[name]["start_s"],
                                                          ", ".join("{:.3f}".format(x["start_s"]) for x in r)))
    return out


def percentile(values, q):
    s = sorted(values)
    if not s:
        return None
    i = min(len(s) - 1, max(0, int(round(q / 100.0 * (len(s) - 1)))))
    return s[i]


def rtt_summary(seconds):
    ms = [1e3 * s for s in seconds]
    return {"median_ms": statistics.median(ms), "p90_ms": percentile(ms, 90), "p99_ms": percentile(ms, 99),
            "min_ms": min(ms), "n": len(ms)}


def blocking_pass(kc):
    """One execute 'pass' through jupyter_client's BlockingKernelClient: seconds to reply + idle."""
    t0 = time.perf_counter()
    msg_id = kc.execute("pass")
    while kc.get_shell_msg(timeout=30)["parent_header"].get("msg_id") != msg_id:
        pass
    while True:
        m = kc.get_iopub_msg(timeout=30)
        if (m["parent_header"].get("msg_id") == msg_id and m["msg_type"] == "status"
                and m["content"]["execution_state"] == "idle"):
            return time.perf_counter() - t0


def interleaved(names, n, once, warmup=20):
    """``once(name)`` n times for each kernel, alternating; -> {name: rtt_summary}."""
    for _ in range(warmup):
        for name in names:
            once(name)
    times = {name: [] for name in names}
    for _ in range(n):
        for name in names:
            times[name].append(once(name))
    return {name: rtt_summary(times[name]) for name in names}


def measure_sessions(names, args, zctx, log):
    """One kernel of each kind, side by side: execute round trips, then the 10k-task cells.
    Measurements alternate between the kernels, so both see the same machine load."""
    out = {name: {} for name in names}
    kernels, leans = {}, {}
    try:
        for name in names:
            k = kernels[name] = Kernel(name, zctx)
            _live.append(k)
            k.start()
            k.kc = k.km.client()
            k.kc.start_channels()
            k.kc.wait_for_ready(timeout=60)
            leans[name] = LeanClient(k.km, zctx)
            leans[name].sync()
        if "python3" in names:
            log("    execute 'pass' x {}, plain ipykernel (before %load_ext treadle) ...".format(args.executes))
            out["python3"]["exec_plain_lean"] = interleaved(
                ["python3"], args.executes, lambda name: leans[name].execute("pass")[0])["python3"]
            out["python3"]["load_ext_s"] = leans["python3"].execute("%load_ext treadle")[0]
        for name in names:
            try:
                out[name]["rss_loaded_bytes"] = psutil.Process(kernels[name].pid).memory_info().rss
            except psutil.Error:
                pass
        log("    execute 'pass' x {} each, alternating (lean client) ...".format(args.executes))
        for name, r in interleaved(names, args.executes, lambda name: leans[name].execute("pass")[0]).items():
            out[name]["exec_lean"] = r
        for name in names:   # the blocking clients read IOPub too: drop what they queued meanwhile
            while True:
                try:
                    kernels[name].kc.get_iopub_msg(timeout=0.2)
                except Exception:
                    break
        log("    execute 'pass' x {} each, alternating (jupyter_client BlockingKernelClient) ...".format(
            args.executes))
        for name, r in interleaved(names, args.executes, lambda name: blocking_pass(kernels[name].kc)).items():
            out[name]["exec_blocking"] = r

        for name in names:
            seconds, _, iopub = leans[name].execute("%treadle workers 2")
            out[name]["workers_start_s"] = seconds
            out[name]["workers_said"] = stream_text(iopub).strip()
            leans[name].execute(SETUP_LOOM)
            leans[name].execute(SETUP_NATIVE)
        cells = [("cell_loom", CELL_LOOM), ("cell_submit_magic", CELL_SUBMIT_MAGIC),
                 ("cell_map", CELL_MAP), ("cell_futures", CELL_FUTURES)]
        for key, template in cells:
            code = template.format(n=args.tasks)
            times = {name: [] for name in names}
            for _ in range(args.reps):
                for name in names:
                    times[name].append(leans[name].execute(code)[0])
            for name in names:
                leans[name].execute("del x")
                t = times[name]
                out[name][key] = {"median_s": statistics.median(t), "runs_s": t,
                                  "us_per_task": 1e6 * statistics.median(t) / args.tasks}
                log("    {:<8} {:<18} median {:.3f} s  ({})".format(
                    name, key, out[name][key]["median_s"], ", ".join("{:.3f}".format(x) for x in t)))
        for name in names:
            _, _, iopub = leans[name].execute("%treadle status")
            out[name]["status"] = _outputs(None, iopub)[-600:]
            seconds, _, iopub = leans[name].execute("%treadle workers --stop")
            out[name]["workers_stop_s"] = seconds
            out[name]["workers_stop_said"] = stream_text(iopub).strip()
    except BaseException:
        for name, k in kernels.items():
            tail = k.log_tail()
            if tail.strip():
                print("    the {} kernel's output:\n{}".format(name, tail), file=sys.stderr, flush=True)
        raise
    finally:
        for lean in leans.values():
            lean.close()
        left = []
        for k in kernels.values():
            _live.remove(k)
            left += k.stop()
        if left:
            raise RuntimeError("processes left by the kernels: {}".format("; ".join(left)))
    return out


# ---------------------------------------------------------------------------------------------
# The table

def fmt_s(v):
    return "-" if v is None else ("{:.3f} s".format(v) if v < 10 else "{:.1f} s".format(v))


def fmt_ms(v):
    return "-" if v is None else "{:.2f} ms".format(v)


def fmt_mb(v):
    return "-" if v is None else "{:.0f} MiB".format(v / 2 ** 20)


def rows_of(results):
    t, p = results.get("treadle", {}), results.get("python3", {})

    def get(d, *path):
        for key in path:
            if not isinstance(d, dict) or key not in d:
                return None
            d = d[key]
        return d

    def ratio(a, b, less="faster"):
        if a is None or b is None or not b:
            return "-"
        r = a / b
        if r < 0.95:
            return "{:.2f} ({:.1f}x {})".format(r, 1 / r, less)
        if r > 1.05:
            return "{:.2f} ({:.1f}x {})".format(r, r, "larger" if less == "smaller" else "slower")
        return "{:.2f} (about the same)".format(r)

    def verdict(v, target):
        if v is None or target is None:
            return ""
        return " ok" if v <= target else " MISSED"

    rows = []

    def add(label, path, f, target=None, target_text="-", note="", less="faster"):
        a, b = get(t, *path), get(p, *path)
        rows.append({"figure": label, "treadle": (f(a) if a is not None else "-") + verdict(a, target),
                     "target": target_text, "ipykernel": f(b) if b is not None else "-",
                     "ratio": ratio(a, b, less), "note": note})

    add("kernel start -> kernel_info_reply (median)", ("start", "start_s"), fmt_s,
        note="prototype 0.41 s vs ipykernel 0.63 s (notes)")
    add("... RSS right after start", ("start", "rss_bytes"), fmt_mb, less="smaller")
    add("... RSS with treadle loaded (server up, no workers)", ("session", "rss_loaded_bytes"), fmt_mb,
        less="smaller")
    add("execute 'pass' round trip, median (lean client)", ("session", "exec_lean", "median_ms"), fmt_ms,
        TARGETS["exec_lean_median_ms"], "<= 2 ms", "ipykernel 4.8 ms (peers.md)")
    add("... p90", ("session", "exec_lean", "p90_ms"), fmt_ms)
    add("... median, jupyter_client BlockingKernelClient", ("session", "exec_blocking", "median_ms"), fmt_ms)
    add("... p90, BlockingKernelClient", ("session", "exec_blocking", "p90_ms"), fmt_ms)
    plain = get(p, "session", "exec_plain_lean", "median_ms")
    if plain is not None:
        rows.append({"figure": "... ipykernel without treadle loaded (lean, median / p90)", "treadle": "-",
                     "target": "-", "ipykernel": "{} / {}".format(
                         fmt_ms(plain), fmt_ms(get(p, "session", "exec_plain_lean", "p90_ms"))),
                     "ratio": "-", "note": ""})
    if get(p, "session", "load_ext_s") is not None:
        rows.append({"figure": "%load_ext treadle (cell)", "treadle": "(built in)", "target": "-",
                     "ipykernel": fmt_s(get(p, "session", "load_ext_s")), "ratio": "-", "note": ""})
    add("%treadle workers 2 (cell)", ("session", "workers_start_s"), fmt_s)
    n = N_TASKS
    for key, label, per in (("cell_loom", "cell: 10k const, HyperLoom API, submit_one + gather", 10),
                            ("cell_submit_magic", "cell: the same graph with %%treadle submit", 10),
                            ("cell_map", "cell: list(treadle.map(square, range(10k)))", 40),
                            ("cell_futures", "cell: gather([square_task(i) ...]) 10k, @treadle.task", 40)):
        a = get(t, "session", key, "median_s")
        add(label, ("session", key, "median_s"), fmt_s, TARGETS[key], "<= {:.2f} s ({} us/task)".format(
            TARGETS[key], per), "" if a is None else "{:.0f} us/task here".format(1e6 * a / n))
    add("%treadle workers --stop (cell)", ("session", "workers_stop_s"), fmt_s)
    return rows


def table(rows):
    headers = ["figure", "treadle kernel", "target", "ipykernel + %load_ext treadle", "treadle/ipykernel", "note"]
    keys = ["figure", "treadle", "target", "ipykernel", "ratio", "note"]
    data = [[r[k] for k in keys] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *data)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths)), "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(str(x).ljust(w) for x, w in zip(r, widths)) for r in data]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 starts, 200 executes, 1 run of each cell")
    ap.add_argument("--kernels", default="treadle,python3", help="kernelspecs, comma-separated")
    ap.add_argument("--starts", type=int, default=None, help="fresh kernels started (default 7, 3 with --quick)")
    ap.add_argument("--executes", type=int, default=None, help="'pass' round trips (default 500, 200 with --quick)")
    ap.add_argument("--reps", type=int, default=None, help="runs of each 10k cell (default 5, 1 with --quick)")
    ap.add_argument("--tasks", type=int, default=N_TASKS, help=argparse.SUPPRESS)
    ap.add_argument("--output", default=os.path.join(ROOT, "build", "bench", "kernel.json"))
    ap.add_argument("--result-line", action="store_true", help="also print 'RESULT {json}' (for bench/run.py)")
    args = ap.parse_args(argv)
    args.starts = args.starts or (3 if args.quick else 7)
    args.executes = args.executes or (200 if args.quick else 500)
    args.reps = args.reps or (1 if args.quick else 5)
    names = [k.strip() for k in args.kernels.split(",") if k.strip()]

    def on_sigterm(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_sigterm)

    def log(text):
        print(text, flush=True)

    meta = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "host": platform.node(),
            "cpus": os.cpu_count(), "python": sys.executable, "starts": args.starts, "executes": args.executes,
            "reps": args.reps, "tasks": args.tasks, "loadavg_start": os.getloadavg()}
    load = os.getloadavg()[0]
    log("kernel benchmarks: {} starts, {} executes, {} run(s) of each 10k cell; load average {:.2f} on {} cpus{}".format(
        args.starts, args.executes, args.reps, load, os.cpu_count(),
        " -- the machine is busy, figures will be noisy" if load > 0.5 else ""))
    zctx = zmq.Context()
    results, error = {name: {} for name in names}, None
    try:
        log("  kernel start x {} each ({}), alternating ...".format(args.starts, ", ".join(
            "{} = {}".format(n, KERNELS.get(n, n)) for n in names)))
        for name, r in measure_starts(names, args.starts, log).items():
            results[name]["start"] = r
        for name, r in measure_sessions(names, args, zctx, log).items():
            results[name]["session"] = r
    except (KeyboardInterrupt, SystemExit) as e:
        error = "interrupted ({})".format(type(e).__name__)
    except Exception as e:
        error = "{}: {}".format(type(e).__name__, e)
        print("kernel bench: " + error, file=sys.stderr, flush=True)
    finally:
        left = stop_live()
        zctx.destroy(linger=0)
    if left:
        error = (error + "; " if error else "") + "processes left (killed): " + "; ".join(left)
    meta["loadavg_end"] = os.getloadavg()
    rows = rows_of(results)
    if not args.result_line:   # else bench/run.py prints the table at the end
        print()
        print(table(rows))
    print()
    print("Round trip: execute_request sent -> execute_reply and 'idle' received. Cells: wall time of the cell, "
          "after '%treadle workers 2' (2 local workers x 1 cpu); targets are the engine's per-task targets.")
    out = {"meta": meta, "kernels": results, "table": rows, "error": error}
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(out, f, indent=1)
    print("wrote " + os.path.relpath(args.output, os.getcwd()))
    if error:
        print("kernel bench FAILED: " + error, file=sys.stderr)
    if args.result_line:
        sys.stdout.write(RESULT_PREFIX + json.dumps(out) + "\n")
        sys.stdout.flush()
    return 1 if error else 0


if __name__ == "__main__":
    sys.exit(main())
