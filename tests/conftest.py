"""Shared fixtures of the end-to-end tests: real treadle-server and treadle-worker processes.

* Every test runs under a deadline (default 60 s, ``@pytest.mark.timeout(N)`` to change it):
  SIGALRM raises ``TestTimeout`` in the test, so a hang fails instead of blocking the suite.
  Client calls wait interruptibly, so the alarm reaches them. Module- and session-scoped
  fixtures (set up before a test's deadline starts) get FIXTURE_TIMEOUT the same way.
* After every test, processes the test started (children of pytest, and programs tagged with
  ``TAG`` that ``run`` tasks started) must be gone: leftovers are killed and the test errors.
* ``cluster``/``client`` are module-scoped (2 workers x 2 cpus) for tests that do not disturb
  the cluster; tests that kill or stop processes start their own with ``start_cluster``.
* The secret is a random one set in $TREADLE_SECRET, so the tests never read or create the
  per-user secret file and every process they start agrees on it.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PREFIX_PYTHON = os.path.join(ROOT, "prefix", "lib", "treadle", "python")
if os.path.isdir(PREFIX_PYTHON) and PREFIX_PYTHON not in sys.path:
    sys.path.insert(0, PREFIX_PYTHON)
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in [PREFIX_PYTHON, os.environ.get("PYTHONPATH")] if p)  # for client subprocesses

SECRET = "e2e-" + os.urandom(16).hex()
os.environ["TREADLE_SECRET"] = SECRET
os.environ.pop("TREADLE_SECRET_FILE", None)

# Put into the command line of long-running programs the tests start through `run`, so that
# programs orphaned by a killed worker can be found and ended.
TAG = "treadle-e2e-{}".format(os.getpid())

import treadle  # noqa: E402
from treadle.loom.client import Client, tasks  # noqa: E402

DEFAULT_TIMEOUT = 60
FIXTURE_TIMEOUT = 240   # a shared fixture's set-up (a cluster, a million-task plan)


class TestTimeout(Exception):
    """A test ran past its deadline."""

    __test__ = False


def pytest_configure(config):
    config.addinivalue_line("markers", "timeout(seconds): the test fails with TestTimeout after this long")


# ---------------------------------------------------------------------------------------------
# Deadline

@contextlib.contextmanager
def _alarm(seconds, message):
    """Raises TestTimeout(message) in the main thread if the block lasts over ``seconds``."""
    def on_alarm(signum, frame):
        raise TestTimeout(message)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(hookwrapper=True)
def pytest_fixture_setup(fixturedef, request):
    """A shared fixture's set-up runs before the test's own deadline: it gets one of its own."""
    if fixturedef.scope == "function" or threading.current_thread() is not threading.main_thread() \
            or signal.getitimer(signal.ITIMER_REAL)[0] > 0:
        yield
        return
    with _alarm(FIXTURE_TIMEOUT, "the fixture {} did not set up within {} s".format(fixturedef.argname, FIXTURE_TIMEOUT)):
        yield


@pytest.fixture(autouse=True)
def _deadline(request):
    marker = request.node.get_closest_marker("timeout")
    seconds = marker.args[0] if marker else DEFAULT_TIMEOUT
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _alarm(seconds, "the test did not finish within {} s".format(seconds)):
        yield


# ---------------------------------------------------------------------------------------------
# No process left behind

def _alive_children():
    out = {}
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                out[p.pid] = p
        except psutil.NoSuchProcess:
            pass
    return out


def tagged_processes():
    """Processes (anywhere) whose command line carries TAG: programs `run` tasks started."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if p.pid != os.getpid() and any(TAG in part for part in (p.info["cmdline"] or ())):
                found.append(p)
        except psutil.Error:
            pass
    return found


def _kill_all(procs):
    for p in procs:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=5)


def end_processes(procs, grace=10.0):
    """Gives ``procs`` (already asked to stop) ``grace`` seconds, then kills what is left."""
    _, alive = psutil.wait_procs(procs, timeout=grace)
    _kill_all(alive)


def _is_executor_of(p, workers):
    # A worker starts its Python executors on its first Python task and replaces one that dies:
    # executors of a worker that was there before the test rightly stay after it.
    try:
        return p.ppid() in workers and "treadle.executor" in " ".join(p.cmdline())
    except psutil.Error:
        return True  # gone meanwhile


@pytest.fixture(autouse=True)
def _no_leftover_processes(request):
    before = _alive_children()
    yield
    deadline = time.monotonic() + 8
    while True:
        left = {pid: p for pid, p in _alive_children().items()
                if pid not in before and not _is_executor_of(p, before)}
        left.update({p.pid: p for p in tagged_processes()})
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if left:
        names = []
        for p in left.values():
            try:
                names.append("{} {}".format(p.pid, " ".join(p.cmdline())[:120]))
            except psutil.Error:
                pass
        _kill_all(list(left.values()))
        if names:
            pytest.fail("processes left behind by the test: " + "; ".join(names), pytrace=False)


# ---------------------------------------------------------------------------------------------
# Clusters and clients

def start_cluster(workers=2, cpus=1, **kwargs):
    """A fresh LocalCluster (close it, or use it as a context manager)."""
    return treadle.local_cluster(workers=workers, cpus=cpus, **kwargs)


def _with_workdir(kwargs, folder):
    """Workers put their directories under `folder` (a killed worker cannot clean up after itself)."""
    args = list(kwargs.get("worker_args", ()))
    if "--workdir" not in args:
        kwargs["worker_args"] = args + ["--workdir", str(folder)]
    return kwargs


@pytest.fixture
def make_cluster(tmp_path_factory):
    """Factory of clusters that are closed when the test ends, even if it fails."""
    made = []

    def make(workers=2, cpus=1, **kwargs):
        kwargs = _with_workdir(kwargs, tmp_path_factory.mktemp("workers"))
        c = start_cluster(workers=workers, cpus=cpus, **kwargs)
        made.append(c)
        return c

    yield make
    for c in reversed(made):
        c.close()


@pytest.fixture
def make_client():
    """Factory of clients that are closed when the test ends."""
    made = []

    def make(address, **kwargs):
        c = Client(*address, **kwargs)
        made.append(c)
        return c

    yield make
    for c in reversed(made):
        try:
            c.close()
        except Exception:
            pass


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A module-wide cluster of 2 workers with 2 cpus each, for tests that leave it intact."""
    with start_cluster(workers=2, cpus=2, **_with_workdir({}, tmp_path_factory.mktemp("workers"))) as c:
        yield c


@pytest.fixture(scope="module")
def module_client(cluster):
    c = Client(*cluster.address)
    yield c
    c.close()


@pytest.fixture
def client(cluster, module_client):
    """The module's client; after the test, the cluster must still be whole and serving."""
    yield module_client
    assert cluster.server.poll() is None, "the server died"
    assert all(w.poll() is None for w in cluster.workers), "a worker died"
    assert_serving(module_client, workers=len(cluster.workers))


def assert_serving(client, workers=None):
    """The server still computes and answers: a small plan gives the right result."""
    token = os.urandom(6).hex()
    t = tasks.merge((tasks.const("ok-"), tasks.const(token)), "|")
    assert client.submit_one(t).gather() == ("ok-|" + token).encode()
    if workers is not None:
        assert len(client.status()["workers"]) == workers


def ran_at_once(client, futures):
    """True when the tasks of ``futures`` (ended) all ran at one moment, by the server's trace:
    parallelism shown without timing the whole, which a loaded machine stretches."""
    ids = {f.task_id for f in futures}
    spans = [(e["start_us"], e["end_us"]) for e in client.trace()["events"]
             if e["kind"] == "task" and e.get("task") in ids]
    assert len(spans) == len(ids), spans
    return max(start for start, _ in spans) < min(end for _, end in spans)


def wait_until(predicate, timeout=10.0, interval=0.05, what="the condition"):
    """Polls `predicate` until it returns something true; returns it or raises AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("{} did not hold within {} s".format(what, timeout))
        time.sleep(interval)


def tasks_done(client):
    """The number of task runs the workers have reported, over all live workers."""
    return sum(w["tasks_done"] for w in client.status()["workers"])


def python_program(code, *extra):
    """Args of `run` that execute `code` with this machine's Debian Python, tagged with TAG."""
    return ("/usr/bin/python3", "-c", code, TAG) + tuple(extra)


def run_script(code, timeout=60, **kwargs):
    """Runs `code` in a fresh Python process (same environment); returns CompletedProcess."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, **kwargs)
