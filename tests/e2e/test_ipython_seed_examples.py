"""Every example of IPython's task interface documentation ("The IPython task interface"), run
on treadle with only its import changed: ``from IPython.kernel import client`` becomes
``from treadle.ipython import client``. Where the text names a machine (``("192.168.1.1",
10113)``) the test's cluster stands in for it; where it leaves out a definition the example
needs (``f``, ``bigfunc``, ``myTasks``), the test makes one first, as the text advises, with a
MultiEngineClient."""

import time

import pytest

from tests.conftest import run_script
from treadle.deploy.state import ClusterState
from treadle.ipython import client


@pytest.fixture
def running_cluster(cluster, tmp_path, monkeypatch):
    """The module's cluster, recorded as the running treadle-cluster (its state file)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("TREADLE_ADDRESS", raising=False)
    state = ClusterState("default")
    state.server = {"host": "127.0.0.1", "connect": cluster.address[0], "port": cluster.address[1]}
    state.save()
    return cluster


@pytest.fixture
def mec(running_cluster):
    mec = client.MultiEngineClient()
    yield mec
    mec.reset()
    mec.clear_properties()
    mec.close()


@pytest.mark.timeout(120)
def test_quickstart_task_farming(running_cluster):
    tc = client.TaskClient()
    tasklist = []
    for n in range(1000):
        tasklist.append(client.Task("a = %i" % n, pull="a"))
    taskids = [tc.run(t) for t in tasklist]
    tc.barrier(taskids)
    task_results = [tc.get_task_result(taskid) for taskid in taskids]
    tr = task_results[73]
    assert repr(tr) == "TaskResult[ID:73]:{'a': 73}"
    assert tr.engineid in client.MultiEngineClient().get_ids()
    submitted, completed, duration = tr.submitted, tr.completed, tr.duration
    assert len(submitted) == len(completed) == len("2008/03/08 03:41:42") and duration >= 0
    assert tr.results['a'] == 73
    assert tr.ns.a == 73


def test_making_a_task_client(running_cluster):
    tc = client.TaskClient(client.default_task_address)
    assert tc.address == running_cluster.address
    tc = client.TaskClient(tuple(running_cluster.address))   # ("192.168.1.1", 10113) in the text
    assert tc.address == running_cluster.address


def test_run_get_task_result_and_barrier(running_cluster, mec, tmp_path):
    tc = client.TaskClient(client.default_task_address)
    Task = client.Task("a = 1", pull="a")
    TaskID = tc.run(Task)
    assert tc.get_task_result(TaskID, block=True).ns.a == 1
    flag = tmp_path / "go"
    myTasks = [client.Task("import os\nwhile not os.path.exists(%r): pass\nb = 2" % str(flag), pull="b")
               for _ in range(3)]
    taskIDs = [tc.run(Task) for Task in myTasks]
    assert tc.get_task_result(taskIDs[-1]) is None
    flag.touch()
    tc.barrier(TaskID)
    tc.barrier(taskIDs)
    results = [tc.get_task_result(tid) for tid in taskIDs]
    assert [r.ns.b for r in results] == [2, 2, 2]


def test_queue_status(running_cluster):
    tc = client.TaskClient(client.default_task_address)
    ids = [tc.run(client.Task("a = 1")) for _ in range(5)] + [tc.run(client.Task("1/0"))]
    status = tc.queue_status()
    assert set(status) == {"scheduled", "pending", "succeeded", "failed"} and sum(status.values()) == 6
    tc.barrier(ids)
    assert tc.queue_status() == {"scheduled": 0, "pending": 0, "succeeded": 5, "failed": 1}
    assert tc.queue_status(verbose=True) == {"scheduled": [], "pending": [], "succeeded": [0, 1, 2, 3, 4],
                                             "failed": [5]}


def test_abort(running_cluster, tmp_path):
    tc = client.TaskClient(client.default_task_address)
    typo = tc.run(client.Task("import os\nwhile not os.path.exists(%r): pass" % str(tmp_path / "never"), retries=2))
    tc.abort(typo)
    assert isinstance(tc.get_task_result(typo).failure, client.TaskAborted)
    done = tc.run(client.Task("a = 1"))
    tc.barrier(done)
    with pytest.raises(IndexError, match="Task Already Completed"):
        tc.abort(done)


def test_spin_after_an_engine_gets_its_dependencies(running_cluster, mec):
    tc = client.TaskClient(client.default_task_address)
    # The engine is available, the task is submitted, but the engine does not have its dependencies.
    t = tc.run(client.Task("ok = True", pull="ok", depend=lambda properties: properties.get("has_deps")))
    assert tc.get_task_result(t) is None
    # The engine gets them (here from another process, which no TaskClient hears of)...
    out = run_script("from treadle.ipython import client\n"
                     "mec = client.MultiEngineClient()\n"
                     "mec.set_properties({'has_deps': True}, targets=mec.get_ids()[0])\n")
    assert out.returncode == 0, out.stderr
    assert tc.get_task_result(t) is None
    # ...and spin() schedules the task.
    tc.spin()
    assert tc.get_task_result(t, block=True).ns.ok is True


def test_the_task_object(running_cluster):
    tc = client.TaskClient(client.default_task_address)
    t = client.Task("a = str(id)")
    assert tc.get_task_result(tc.run(t), block=True).failure is None
    t = client.Task("a = str(id)", pull = "a")
    assert tc.get_task_result(tc.run(t), block=True).ns.a == str(id)
    t = client.Task("a = str(id)", pull = ["a", "id"])
    assert tc.get_task_result(tc.run(t), block=True).results == {"a": str(id), "id": id}


def test_push(running_cluster, mec):
    mec.execute("def f(x):\n    return x * 2")   # the engines' dependencies, set up first
    tc = client.TaskClient(client.default_task_address)
    t = client.Task("a = f(submitted)", push=dict(submitted=time.time()), pull="a")
    r = tc.get_task_result(tc.run(t), block=True)
    assert r.ns.a == 2 * t.push["submitted"]


def test_namespace_cleaning(running_cluster, mec):
    tc = client.TaskClient(client.default_task_address)
    mec.push({"clutter": 1})
    t = client.Task("a = range(1e10)", pull = "a",clear_after=True)
    r = tc.get_task_result(tc.run(t), block=True)
    assert isinstance(r.failure, TypeError)   # range(1e10): Python 3 wants an int (Python 2 ran out of memory)
    with pytest.raises(NameError):
        mec.pull("clutter", targets=r.engineid)   # cleared after the task, though it failed
    t = client.Task("a = globals()", pull = "a",clear_before=True)
    r = tc.get_task_result(tc.run(t), block=True)
    assert "clutter" not in r.ns.a and r.ns.a["a"] is r.ns.a


def test_retries(running_cluster):
    tc = client.TaskClient(client.default_task_address)
    t = client.Task("os.kill(os.getpid(), 9)", retries=99)
    # "This would actually take down 100 workers": here os was never imported on the engines,
    # so each of the 100 runs fails with a NameError instead of killing one.
    r = tc.get_task_result(tc.run(t), block=True)
    assert isinstance(r.failure, NameError) and r.attempts == 100


def test_dependencies(running_cluster, mec):
    mec.execute("def bigfunc():\n    return 'big'")
    ids = mec.get_ids()
    mec.set_properties({"RAM": 2 ** 30})
    mec.set_properties({"RAM": 2 ** 34}, targets=ids[-1])

    def dep(properties):
        return properties["RAM"] > 2**32 # have at least 4GB

    t = client.Task("a = bigfunc()", depend=dep)
    tc = client.TaskClient(client.default_task_address)
    r = tc.get_task_result(tc.run(t), block=True)
    assert r.failure is None and r.engineid == ids[-1]
