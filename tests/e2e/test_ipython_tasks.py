"""IPython's task interface (treadle.ipython.client) through real servers, workers and their
executors, which are the engines (docs/ipython.md)."""

import os
import signal
import time

import psutil
import pytest

from tests.conftest import assert_serving, run_script, wait_until
from treadle.ipython import client
from treadle.loom.client import Client


def gone(pid):
    """The process ended: reaped, or a zombie (asked once: it may be reaped between two questions)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_for_file(path):
    """A Task's code that blocks until ``path`` exists (the test decides when it ends)."""
    return "import os, time\nwhile not os.path.exists({!r}):\n    time.sleep(0.01)\n".format(str(path))


@pytest.fixture(scope="module")
def engines(cluster):
    """A TaskClient and a MultiEngineClient on the module's cluster (2 workers x 2 cpus)."""
    tc = client.TaskClient(cluster.address)
    mec = client.MultiEngineClient(cluster.address)
    yield tc, mec
    mec.close()
    tc.close()


@pytest.fixture
def tc(engines):
    return engines[0]


@pytest.fixture
def mec(engines):
    mec = engines[1]
    yield mec
    mec.reset()
    mec.clear_properties()


# ---------------------------------------------------------------------------------------------
# TaskClient and TaskResult

def test_tasks_run_and_their_results_come_back(tc, mec):
    first = len(tc._records)
    ids = [tc.run(client.Task("a = %i" % n, pull="a")) for n in range(40)]
    assert ids == list(range(first, first + 40))
    tc.barrier(ids)
    results = [tc.get_task_result(i) for i in ids]
    assert [r.results for r in results] == [{"a": n} for n in range(40)]
    r = results[33]
    assert repr(r) == "TaskResult[ID:{}]:{{'a': 33}}".format(ids[33])
    assert r.ns.a == 33 and r.results["a"] == 33 and r["a"] == 33
    assert r.engineid in mec.get_ids()
    assert len({x.engineid for x in results}) > 1, "40 tasks all ran on one engine"
    assert time.strptime(r.submitted, "%Y/%m/%d %H:%M:%S") <= time.strptime(r.completed, "%Y/%m/%d %H:%M:%S")
    assert isinstance(r.duration, float) and r.duration >= 0
    assert r.failure is None
    r.raise_exception()   # nothing to raise


def test_ids_start_at_zero_per_client(cluster):
    with client.TaskClient(cluster.address) as own:
        assert [own.run(client.Task("pass")) for _ in range(3)] == [0, 1, 2]
        own.barrier([0, 1, 2])


def test_get_task_result_is_none_until_done_and_blocks_if_asked(tc, tmp_path):
    flag = tmp_path / "go"
    tid = tc.run(client.Task(wait_for_file(flag) + "x = 'done'", pull=["x"]))
    assert tc.get_task_result(tid) is None
    assert tc.get_task_result(tid, block=False) is None
    flag.touch()
    assert tc.get_task_result(tid, block=True).ns.x == "done"


def test_pull_several_names_and_push(tc):
    tid = tc.run(client.Task("c = a + len(b)", push=dict(a=1, b=[2]), pull=["a", "c"]))
    assert tc.get_task_result(tid, block=True).results == {"a": 1, "c": 2}


def test_attributes_are_settable_after_construction(tc):
    t = client.Task("pass")
    t.expression = "y = x * 2"
    t.push = {"x": 21}
    t.pull = "y"
    t.clear_before = True
    assert tc.get_task_result(tc.run(t), block=True).ns.y == 42


def test_a_failing_task_gives_its_exception(tc):
    r = tc.get_task_result(tc.run(client.Task("import math\nv = math.sqrt(-1)", pull="v")), block=True)
    assert isinstance(r.failure, ValueError) and isinstance(r.failure, client.EngineFailure)
    assert "math domain error" in repr(r)
    assert str(r.failure) == "Task {} on engine {} failed: ValueError: math domain error".format(r.taskid, r.engineid)
    assert r.engineid is not None
    with pytest.raises(ValueError, match="math domain error"):
        r.raise_exception()


def test_a_missing_pulled_name_is_a_failure(tc):
    r = tc.get_task_result(tc.run(client.Task("b = 1", pull="nope")), block=True)
    assert isinstance(r.failure, NameError) and "nope" in str(r.failure)


def test_bad_tasks_are_refused_at_run(tc):
    with pytest.raises(TypeError):
        tc.run("a = 1")
    with pytest.raises(TypeError):
        tc.run(client.Task(42))
    r = tc.get_task_result(tc.run(client.Task("a = = 1")), block=True)   # as on IPython's engines
    assert isinstance(r.failure, SyntaxError)
    with pytest.raises(TypeError):
        tc.run(client.Task("a = 1", push=["a"]))
    with pytest.raises(ValueError):
        tc.run(client.Task("a = 1", retries=-1))
    with pytest.raises(IndexError):
        tc.get_task_result(10 ** 6)
    assert tc.get_task_result(tc.run(client.Task("ok = 1", pull="ok")), block=True).ns.ok == 1


# ---------------------------------------------------------------------------------------------
# Engines: namespaces that live on, and their clearing

def test_an_engines_namespace_lives_on_between_tasks(tc, mec):
    for e in mec.get_ids():
        mec.set_properties({"me": e}, targets=e)
    mec.execute("kept = 41")
    results = []
    for e in mec.get_ids():
        tid = tc.run(client.Task("w = kept + 1", pull="w", depend=lambda p, e=e: p["me"] == e))
        results.append(tc.get_task_result(tid, block=True))
    assert [(r.engineid, r.ns.w) for r in results] == [(e, 42) for e in mec.get_ids()]


def test_clear_before_and_clear_after(tc, mec):
    e = mec.get_ids()[0]
    mec.set_properties({"here": True}, targets=e)
    mec.push({"secret": "s"}, targets=e)
    here = lambda p: p.get("here")   # noqa: E731
    r = tc.get_task_result(tc.run(client.Task("seen = 'secret' in globals()", pull="seen", clear_before=True,
                                              depend=here)), block=True)
    assert r.ns.seen is False and r.engineid == e
    mec.push({"secret": "s"}, targets=e)
    r = tc.get_task_result(tc.run(client.Task("seen = 'secret' in globals()\nleft = 1", pull="seen", clear_after=True,
                                              depend=here)), block=True)
    assert r.ns.seen is True
    with pytest.raises(NameError):
        mec.pull("left", targets=e)


def test_a_replaced_executor_is_the_same_engine_with_an_empty_namespace(cluster, mec):
    ids = mec.get_ids()
    e = ids[1]
    mec.execute("import os\nmine = os.getpid()", targets=e)
    pid = mec.pull("mine", targets=e)
    assert psutil.Process(pid).name().startswith("python")
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: gone(pid), what="the executor gone")
    # Its worker replaces it: same worker, same index, so the same engine id, and a fresh namespace.
    with pytest.raises(NameError):
        mec.pull("mine", targets=e)
    mec.execute("import os\nmine = os.getpid()", targets=e)
    assert mec.pull("mine", targets=e) != pid
    assert mec.get_ids() == ids


# ---------------------------------------------------------------------------------------------
# MultiEngineClient

def test_multiengine_execute_push_pull_reset(mec):
    ids = mec.get_ids()
    assert ids == sorted(ids) and len(ids) == 4   # 2 workers x 2 executors
    mec.execute("import math\nroot = math.sqrt(16)")
    assert mec.pull("root") == [4.0] * 4
    mec.push({"n": 7}, targets=[ids[1], ids[3]])
    assert mec.pull("n", targets=ids[1]) == 7
    assert mec.pull(["n", "root"], targets=[ids[3]]) == [[7, 4.0]]
    with pytest.raises(NameError):
        mec.pull("n", targets=ids[0])
    mec.reset(targets=ids[1])
    with pytest.raises(NameError):
        mec.pull("root", targets=ids[1])
    assert mec.pull("root", targets=ids[2]) == 4.0


def test_multiengine_properties_and_errors(mec):
    ids = mec.get_ids()
    mec.set_properties({"RAM": 2 ** 33}, targets=ids[:2])
    mec.set_properties({"RAM": 2 ** 30, "gpu": True}, targets=ids[2:])
    assert mec.get_properties() == [{"RAM": 2 ** 33}] * 2 + [{"RAM": 2 ** 30, "gpu": True}] * 2
    assert mec.get_properties(["gpu"], targets=ids[3]) == {"gpu": True}
    with pytest.raises(ZeroDivisionError):
        mec.execute("1/0", targets=ids[0])
    with pytest.raises(SyntaxError):
        mec.execute("if")
    with pytest.raises(ValueError, match="no engine with id 99"):
        mec.pull("x", targets=99)
    with pytest.raises(TypeError):
        mec.push(["not", "a", "dict"])


def test_execute_reaches_a_busy_engine_when_it_frees(tc, mec, tmp_path):
    """A command for an engine that runs a long task waits for it (its copies went elsewhere)."""
    e = mec.get_ids()[0]
    mec.set_properties({"busy": True}, targets=e)
    flag = tmp_path / "go"
    tid = tc.run(client.Task(wait_for_file(flag), depend=lambda p: p.get("busy")))
    wait_until(lambda: tc.queue_status()["pending"] == 1, what="the task running")
    flag.touch()
    mec.execute("after = 1", targets=e)
    assert mec.pull("after", targets=e) == 1
    assert tc.get_task_result(tid, block=True).failure is None


# ---------------------------------------------------------------------------------------------
# Dependencies

def test_depend_routes_by_properties(tc, mec):
    ids = mec.get_ids()
    for e in ids:
        mec.set_properties({"RAM": 2 ** 33 if e == ids[2] else 2 ** 30}, targets=e)
    tids = [tc.run(client.Task("a = 1", pull="a", depend=lambda p: p["RAM"] > 2 ** 32)) for _ in range(6)]
    tc.barrier(tids)
    assert {tc.get_task_result(t).engineid for t in tids} == {ids[2]}


def test_a_depend_that_raises_means_not_here(tc, mec):
    ids = mec.get_ids()
    mec.set_properties({"name": "good"}, targets=ids[1])

    def dep(properties):
        return properties["name"] == "good"   # KeyError on the engines without a name

    tid = tc.run(client.Task("a = 1", depend=dep))
    assert tc.get_task_result(tid, block=True).engineid == ids[1]


def test_a_task_no_engine_satisfies_waits_until_properties_change(tc, mec):
    ids = mec.get_ids()
    tid = tc.run(client.Task("v = 'ran'", pull="v", depend=lambda p: p.get("ready")))
    assert tc.queue_status(verbose=True)["scheduled"] == [tid]
    assert tc.get_task_result(tid) is None
    mec.set_properties({"ready": True}, targets=ids[3])   # this process: the TaskClient is told
    r = tc.get_task_result(tid, block=True)
    assert r.ns.v == "ran" and r.engineid == ids[3]


def test_spin_reschedules_after_another_process_changed_properties(tc, mec, cluster):
    tid = tc.run(client.Task("v = 'ran'", pull="v", depend=lambda p: p.get("flag") == "set"))
    assert tc.get_task_result(tid) is None
    out = run_script("from treadle.ipython import client\n"
                     "mec = client.MultiEngineClient({!r})\n"
                     "mec.set_properties({{'flag': 'set'}}, targets=mec.get_ids()[0])\n".format(cluster.address))
    assert out.returncode == 0, out.stderr
    assert tc.get_task_result(tid) is None, "scheduled before anything told the client"
    tc.spin()
    r = tc.get_task_result(tid, block=True)
    assert r.ns.v == "ran" and r.engineid == mec.get_ids()[0]


# ---------------------------------------------------------------------------------------------
# Fault tolerance

def counting(path, fail_until):
    """Code that counts its runs in ``path`` and fails until the count reaches ``fail_until``."""
    return ("import os\np = {!r}\nn = int(open(p).read()) + 1 if os.path.exists(p) else 1\n"
            "open(p, 'w').write(str(n))\nif n < {}:\n    raise RuntimeError('run %d fails' % n)\n"
            "runs = n\n").format(str(path), fail_until)


def test_retries_cover_a_failing_task(tc, tmp_path):
    r = tc.get_task_result(tc.run(client.Task(counting(tmp_path / "a", 3), pull="runs", retries=2)), block=True)
    assert r.ns.runs == 3 and r.attempts == 3
    r = tc.get_task_result(tc.run(client.Task(counting(tmp_path / "b", 3), pull="runs", retries=1)), block=True)
    assert isinstance(r.failure, RuntimeError) and "run 2 fails" in str(r.failure)
    assert r.attempts == 2


def test_retries_cover_a_killed_executor(tc, mec, cluster, tmp_path):
    marker = tmp_path / "killed-once"
    code = ("import os\nif not os.path.exists({0!r}):\n    open({0!r}, 'w').close()\n    os.kill(os.getpid(), 9)\n"
            "pid = os.getpid()\n").format(str(marker))
    r = tc.get_task_result(tc.run(client.Task(code, pull="pid", retries=1)), block=True)
    assert r.failure is None and r.attempts == 2 and marker.exists()
    # Without retries the lost engine is the failure; the cluster serves on.
    code = "import os\nos.kill(os.getpid(), 9)"
    r = tc.get_task_result(tc.run(client.Task(code, retries=0)), block=True)
    assert r.failure is not None and "signal 9" in str(r.failure)
    assert_serving(Client(*cluster.address), workers=2)
    assert mec.get_ids() == sorted(mec.get_ids()) and len(mec.get_ids()) == 4


@pytest.mark.timeout(90)
def test_a_task_survives_its_killed_worker(make_cluster, tmp_path):
    cluster = make_cluster(workers=2, cpus=1)
    with client.TaskClient(cluster.address) as own:
        pids = tmp_path / "pids"
        code = ("import os, time\nopen({0!r}, 'a').write('%d\\n' % os.getppid())\n"
                "while not os.path.exists({1!r}) and len(open({0!r}).read().split()) < 2:\n    time.sleep(0.01)\n"
                "worker = os.getppid()\n").format(str(pids), str(tmp_path / "never"))
        tid = own.run(client.Task(code, pull="worker", retries=1))
        first = int(wait_until(lambda: pids.exists() and pids.read_text().split(), what="the task started")[0])
        victim = next(w for w in cluster.workers if w.pid == first)
        victim.send_signal(signal.SIGKILL)
        victim.wait(5)
        r = own.get_task_result(tid, block=True)
        assert r.failure is None and r.ns.worker != first


def test_recovery_task_runs_after_the_last_retry(tc, tmp_path):
    recovery = client.Task("r = 'recovered'", pull="r")
    t = client.Task(counting(tmp_path / "c", 99), retries=1, recovery_task=recovery)
    r = tc.get_task_result(tc.run(t), block=True)
    assert r.ns.r == "recovered" and r.recovered_by == 1 and r.attempts == 3
    # A chain: the first recovery fails too, the second succeeds.
    t = client.Task("1/0", recovery_task=client.Task("2/0", recovery_task=client.Task("ok = 1", pull="ok")))
    r = tc.get_task_result(tc.run(t), block=True)
    assert r.ns.ok == 1 and r.recovered_by == 2
    # All of them fail: the last failure is the task's.
    r = tc.get_task_result(tc.run(client.Task("1/0", recovery_task=client.Task("[][1]"))), block=True)
    assert isinstance(r.failure, IndexError)


def test_a_recovery_loop_is_refused_at_run(tc):
    a, b = client.Task("1/0"), client.Task("2/0")
    a.recovery_task = b
    b.recovery_task = a
    with pytest.raises(ValueError, match="loops"):
        tc.run(a)
    me = client.Task("1/0")
    me.recovery_task = me
    with pytest.raises(ValueError, match="loops"):
        tc.run(me)
    with pytest.raises(TypeError):
        tc.run(client.Task("1/0", recovery_task="not a task"))


# ---------------------------------------------------------------------------------------------
# abort, queue_status

def test_abort_a_queued_and_a_running_task(tc, mec, tmp_path):
    queued = tc.run(client.Task("a = 1", depend=lambda p: p.get("never")))
    flag = tmp_path / "go"
    running = tc.run(client.Task(wait_for_file(flag) + "a = 1", pull="a"))
    wait_until(lambda: running in tc.queue_status(verbose=True)["pending"], what="the task running")
    tc.abort(queued)
    tc.abort(running)
    for tid in (queued, running):
        r = tc.get_task_result(tid)
        assert isinstance(r.failure, client.TaskAborted)
        with pytest.raises(client.TaskAborted):
            r.raise_exception()
        with pytest.raises(IndexError, match="Already Completed"):
            tc.abort(tid)
    assert tc.get_task_result(tc.run(client.Task("after = 1", pull="after")), block=True).ns.after == 1
    assert len(mec.get_ids()) == 4


def test_abort_a_completed_task_raises_index_error(tc):
    tid = tc.run(client.Task("a = 1"))
    tc.barrier(tid)
    with pytest.raises(IndexError, match="Task Already Completed"):
        tc.abort(tid)


@pytest.mark.timeout(90)
def test_queue_status_during_a_run(make_cluster, tmp_path):
    cluster = make_cluster(workers=2, cpus=2)   # 4 engines, none busy with another test's leftovers
    with client.TaskClient(cluster.address) as own:
        # The first plan sends the engines' entry point too, and the scheduler chains tasks
        # behind it on its worker, up to that worker's queue room: warm up, so the four below
        # are placed on free cpus.
        warm = [own.run(client.Task("pass")) for _ in range(4)]
        own.barrier(warm)
        flag = tmp_path / "go"
        started = "open({!r} + '/started-' + str(os.getpid()), 'w').close()\n".format(str(tmp_path))
        running = [own.run(client.Task("import os\n" + started + wait_for_file(flag))) for _ in range(4)]
        wait_until(lambda: len(list(tmp_path.glob("started-*"))) == 4, timeout=30, what="every engine running one")
        assert own.queue_status(verbose=True)["pending"] == running
        queued = [own.run(client.Task("a = 1")) for _ in range(3)]
        failed = own.run(client.Task("a = 1", depend=lambda p: p.get("never")))
        own.abort(failed)
        status = own.queue_status(verbose=True)
        # A task handed to an engine counts as pending, also while it waits in the engine's pipe
        # behind the one running there (docs/ipython.md).
        assert set(running) <= set(status["pending"]) and status["succeeded"] == warm and status["failed"] == [failed]
        assert sorted(status["pending"] + status["scheduled"]) == running + queued
        counts = own.queue_status()
        assert counts["pending"] + counts["scheduled"] == 7 and counts["pending"] >= 4 and counts["succeeded"] == 4
        assert counts["failed"] == 1
        flag.touch()
        own.barrier(running + queued)
        assert own.queue_status() == {"scheduled": 0, "pending": 0, "succeeded": 11, "failed": 1}


# ---------------------------------------------------------------------------------------------
# The default address

def test_default_task_address_without_kernel_or_cluster_is_a_clear_error(tmp_path):
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path))
    env.pop("TREADLE_ADDRESS", None)
    out = run_script("from treadle.ipython import client\nclient.TaskClient(client.default_task_address)", env=env)
    assert out.returncode != 0
    assert "not the treadle kernel" in out.stderr and "treadle-cluster" in out.stderr


def test_default_task_address_is_the_running_treadle_cluster(cluster, tmp_path):
    from treadle.deploy.state import ClusterState
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path))
    env.pop("TREADLE_ADDRESS", None)
    os.environ["XDG_DATA_HOME"], saved = str(tmp_path), os.environ.get("XDG_DATA_HOME")
    try:
        state = ClusterState("default")
        state.server = {"host": "127.0.0.1", "connect": cluster.address[0], "port": cluster.address[1]}
        state.save()
    finally:
        if saved is None:
            del os.environ["XDG_DATA_HOME"]
        else:
            os.environ["XDG_DATA_HOME"] = saved
    out = run_script("from treadle.ipython import client\ntc = client.TaskClient(client.default_task_address)\n"
                     "print(tc.get_task_result(tc.run(client.Task('a = 6 * 7', pull='a')), block=True))\n"
                     "print(client.TaskClient().address == client.default_task_address)", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["TaskResult[ID:0]:{'a': 42}", "True"]


def test_a_barrier_takes_the_results_in_a_few_fetches(tc, monkeypatch):
    """barrier() waits for the server's word on all its tasks, then fetches their results
    together: taking them in as they trickled in cost a round trip per few tasks."""
    fetches = []
    fetch = tc.connection.fetch
    monkeypatch.setattr(tc.connection, "fetch", lambda handles: fetches.append(len(handles)) or fetch(handles))
    ids = [tc.run(client.Task("import time; time.sleep(0.002); a = %i" % n, pull="a")) for n in range(400)]
    tc.barrier(ids)
    assert [tc.get_task_result(i).ns.a for i in ids] == list(range(400))
    assert sum(fetches) == 400 and len(fetches) <= 4, fetches


def test_a_barrier_retries_a_failing_task_while_the_others_run(tc, tmp_path):
    marker = str(tmp_path / "failed-once")
    ids = [tc.run(client.Task("import time; time.sleep(0.01); a = %i" % n, pull="a")) for n in range(20)]
    flaky = tc.run(client.Task("import os\nif not os.path.exists({0!r}):\n    open({0!r}, 'w').close()\n"
                               "    raise ValueError('once')\na = 1".format(marker), pull="a", retries=2))
    tc.barrier(ids + [flaky])
    r = tc.get_task_result(flaky)
    assert r.failure is None and r.ns.a == 1 and r.attempts == 2, r
    assert [tc.get_task_result(i).ns.a for i in ids] == list(range(20))
