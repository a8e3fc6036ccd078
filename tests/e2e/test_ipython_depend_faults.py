"""IPython tasks routed by ``depend`` under failure: a task that kills its engine, engines busy
for longer than $TREADLE_ENGINE_TIMEOUT, a worker that dies, an abort that replaces an engine
(docs/ipython.md, "Fault tolerance" and "Dependencies"). Real server, workers and executors."""

import os
import signal
import time

import pytest

from tests.conftest import run_script, wait_until
from treadle.ipython import client


def wait_for_file(path):
    """A Task's code that blocks until ``path`` exists (the test decides when it ends)."""
    return "import os, time\nwhile not os.path.exists({!r}):\n    time.sleep(0.01)\n".format(str(path))


def logging_run(log):
    """Code that appends this engine's worker pid to ``log``: one line per run."""
    return "import os\nopen({!r}, 'a').write('%d\\n' % os.getppid())\n".format(str(log))


def runs(log):
    return log.read_text().split() if log.exists() else []


@pytest.fixture
def own(make_cluster):
    """A TaskClient and a MultiEngineClient on a cluster of this test's own (2 workers x 1 cpu)."""
    cluster = make_cluster(workers=2, cpus=1)
    tc = client.TaskClient(cluster.address)
    mec = client.MultiEngineClient(cluster.address)
    yield cluster, tc, mec
    mec.close()
    tc.close()


@pytest.mark.timeout(60)
def test_a_depend_task_that_kills_its_engine_fails_as_one_try(own, tmp_path):
    """As without depend: one run, a failed result (retries=0); with retries, one more run."""
    _, tc, mec = own
    e = mec.get_ids()[0]
    mec.set_properties({"ok": True}, targets=e)
    log = tmp_path / "runs"
    kill = logging_run(log) + "os.kill(os.getpid(), 9)\n"
    r = tc.get_task_result(tc.run(client.Task(kill, depend=lambda p: p.get("ok"))), block=True)
    assert r.failure is not None and "signal 9" in str(r.failure), r
    assert r.attempts == 1 and len(runs(log)) == 1
    # Kills only its first run: with retries=0 that run is the task's failure, not a silent rerun.
    marker, log2 = tmp_path / "killed-once", tmp_path / "runs2"
    once = logging_run(log2) + ("if not os.path.exists({0!r}):\n    open({0!r}, 'w').close()\n"
                                "    os.kill(os.getpid(), 9)\na = 'ran again'\n").format(str(marker))
    mec.set_properties({"ok": True}, targets=e)   # the killed engine's replacement starts without them
    r = tc.get_task_result(tc.run(client.Task(once, pull="a", depend=lambda p: p.get("ok"))), block=True)
    assert r.failure is not None and "signal 9" in str(r.failure), r
    assert len(runs(log2)) == 1
    # With a retry it runs again where depend holds (the engine's properties are asked anew).
    marker.unlink()
    mec.set_properties({"ok": True}, targets="all")
    r = tc.get_task_result(tc.run(client.Task(once, pull="a", retries=1, depend=lambda p: p.get("ok"))), block=True)
    assert r.failure is None and r.ns.a == "ran again" and r.attempts == 2
    assert len(mec.get_ids()) == 2


@pytest.mark.timeout(60)
def test_a_depend_task_waits_for_busy_engines_past_the_engine_timeout(own, tmp_path, monkeypatch):
    """Queued behind busy engines for longer than $TREADLE_ENGINE_TIMEOUT, it runs once one frees."""
    monkeypatch.setenv("TREADLE_ENGINE_TIMEOUT", "1")
    _, tc, mec = own
    flag = tmp_path / "go"
    busy = [tc.run(client.Task(wait_for_file(flag))) for _ in mec.get_ids()]
    wait_until(lambda: tc.queue_status()["pending"] == len(busy), what="every engine busy")
    tid = tc.run(client.Task("a = 'ran'", pull="a", depend=lambda p: True))
    start = time.monotonic()
    wait_until(lambda: time.monotonic() - start > 2.5 and tc.get_task_result(tid) is None,
               what="the engine timeout passed with the task waiting")
    flag.touch()
    tc.barrier(busy)
    r = tc.get_task_result(tid, block=True)
    assert r.failure is None and r.ns.a == "ran"


@pytest.mark.timeout(90)
def test_a_dead_worker_fails_only_its_running_depend_task_try(own, tmp_path):
    """Depend tasks that never started go to another engine that qualifies; the one running on
    the dead worker's engine uses a retry."""
    cluster, tc, mec = own
    ids = mec.get_ids()
    mec.execute("import os; w = os.getppid()", targets=ids[0])
    victim_pid = mec.pull("w", targets=ids[0])   # engine ids[0]'s worker: the first task runs there
    mec.set_properties({"ok": True}, targets="all")
    log, flag = tmp_path / "runs", tmp_path / "go"
    code = logging_run(log) + wait_for_file(flag) + "worker = os.getppid()\n"
    tids = [tc.run(client.Task(code, pull="worker", retries=1, depend=lambda p: p.get("ok"))) for _ in range(3)]
    wait_until(lambda: tc.queue_status() and len(runs(log)) == 2, what="two tasks running")
    victim = next(w for w in cluster.workers if w.pid == victim_pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait(5)
    assert str(victim_pid) in runs(log)
    # The task that ran there runs again on the other engine; the queued one runs there too.
    flag.touch()
    results = [tc.get_task_result(t, block=True) for t in tids]
    assert [r.failure for r in results] == [None, None, None], results
    assert {r.ns.worker for r in results} == {w.pid for w in cluster.workers if w.pid != victim_pid}
    assert sorted(r.attempts for r in results) == [1, 1, 2]


@pytest.mark.timeout(60)
def test_depend_sees_the_properties_after_an_abort_replaced_the_engine(own, tmp_path):
    """abort() of a running routed task replaces its engine (its properties go with it): the next
    depend task is not sent there by a stale copy of its properties."""
    cluster, tc, mec = own
    e, f = mec.get_ids()
    mec.set_properties({"ok": 1}, targets=e)
    log = tmp_path / "runs"
    running = tc.run(client.Task(logging_run(log) + wait_for_file(tmp_path / "never"), depend=lambda p: p.get("ok") == 1))
    wait_until(lambda: tc.queue_status() and runs(log), what="the routed task running")
    tc.abort(running)
    # Another process gives engine f the property; engine e lost it with its executor.
    out = run_script("from treadle.ipython import client\n"
                     "mec = client.MultiEngineClient({!r})\n"
                     "mec.set_properties({{'ok': 1}}, targets={})\n".format(cluster.address, f))
    assert out.returncode == 0, out.stderr
    r = tc.get_task_result(tc.run(client.Task("a = 1", pull="a", depend=lambda p: p.get("ok") == 1)), block=True)
    assert r.failure is None and r.engineid == f
    assert mec.get_properties(targets=e) == {}


def test_a_local_cluster_is_the_default_and_a_wait_without_engines_says_so():
    """docs/ipython.md's `ipcluster -n 4`: inside `with treadle.local_cluster(...)`, TaskClient()
    connects to that cluster; a wait on a cluster without workers says so (here the notice
    starts the worker the tasks wait for)."""
    out = run_script(
        "import io, sys, treadle\n"
        "from treadle.ipython import client\n"
        "with treadle.local_cluster(workers=0) as cluster:\n"
        "    tc = client.TaskClient()\n"
        "    print('same', tuple(tc.address) == tuple(cluster.address))\n"
        "    class Notice(io.StringIO):\n"
        "        def write(self, text):\n"
        "            if 'no engines' in text:\n"
        "                cluster.add_worker()\n"
        "            sys.__stdout__.write('notice: ' + text)\n"
        "            return len(text)\n"
        "    sys.stderr = Notice()\n"
        "    print(tc.get_task_result(tc.run(client.Task('a = 1', pull='a')), block=True))\n"
        "    sys.stderr = sys.__stderr__\n"
        "try:\n"
        "    client.TaskClient(('127.0.0.1', 1))\n"
        "except client.ConnectionError as error:\n"
        "    print('refused', type(error).__name__, isinstance(error, client.KernelError))\n",
        env=dict(os.environ, TREADLE_CONNECT_TIMEOUT="1"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "same True", out.stdout
    assert lines[1].startswith("notice: treadle: no engines: no worker is connected to the server at 127.0.0.1:")
    assert "TaskResult[ID:0]:{'a': 1}" in lines
    assert lines[-1] == "refused ConnectionError True"
