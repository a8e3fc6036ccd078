"""Own task types (the guide's "Own tasks", docs/extending.md): the example worker
``treadle-count-worker`` offers "my/count" besides the built-ins; the client builds the task
as the guide does, with ``Task()``.

The module's cluster mixes one plain ``treadle-worker`` and one ``treadle-count-worker``, so
"my/count" tasks must go to the one worker that offers the type.
"""

import os
import struct
import sys
import time

import cloudpickle
import psutil
import pytest

from tests.conftest import start_cluster
from treadle.loom.client import LoomException, Task, TaskFailed, tasks

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def my_count(input, character):
    task = Task()
    task.task_type = "my/count"
    task.inputs = (input,)
    task.config = character
    return task


def u64(data):
    assert len(data) == 8
    return struct.unpack("<Q", data)[0]


@pytest.fixture(scope="module")
def cluster():
    with start_cluster(workers=1, cpus=1) as c:
        c.count_worker = c.add_worker(program="treadle-count-worker")
        c.wait_for_workers(2)
        yield c


def count_worker_status(client, cluster):
    """The status entry of the count worker (workers are named host:pid)."""
    pid = cluster.count_worker.pid
    entries = [w for w in client.status()["workers"] if w["name"].endswith(":{}".format(pid))]
    assert len(entries) == 1, client.status()["workers"]
    return entries[0]


def test_the_guides_example(client, tmp_path):
    path = tmp_path / "file"
    path.write_bytes(b"a banana and a cabana\n")

    t1 = tasks.open(str(path))
    t2 = my_count(t1, "a")  # the guide writes my_count(t1), forgetting the character

    result = client.submit_one(t2)
    assert u64(result.gather()) == 9


def test_count_of_computed_data(client):
    @tasks.py_task()
    def make_text(a):
        return a.read() * 1000

    text = make_text(tasks.const("xyzzy "))
    futures = client.submit([my_count(text, c) for c in "xyz "])
    assert [u64(v) for v in client.gather(futures)] == [1000, 2000, 2000, 1000]


def test_large_input_runs_off_the_loop(client):
    # inline_if_small: inputs of 1 MiB and more run on a thread; the result is the same.
    data = tasks.const(b"ab" * (1 << 20))
    assert u64(client.submit_one(my_count(data, "b")).gather()) == 1 << 20


def test_own_tasks_go_only_to_the_worker_offering_them(client, cluster):
    before = count_worker_status(client, cluster)["tasks_done"]
    # Inputs made anywhere (light consts, cpu-bound Python tasks on either worker).
    @tasks.py_task()
    def make(a):
        return a.read() * 3

    inputs = [make(tasks.const("aXa" + str(i))) for i in range(20)] + \
             [tasks.const("a" * i) for i in range(20)]
    futures = client.submit([my_count(x, "a") for x in inputs])
    # Had any gone to the plain worker, it would have failed there ("unknown task type").
    assert [u64(v) for v in client.gather(futures)] == [6] * 20 + list(range(20))
    after = count_worker_status(client, cluster)["tasks_done"]
    assert after - before >= 40


def test_count_worker_runs_builtins_and_python_tasks(client, cluster):
    # An extended worker keeps the built-ins and runs Python tasks (its executors' parent).
    before = count_worker_status(client, cluster)["tasks_done"]

    @tasks.py_task()
    def pid(a):
        import os
        return str(os.getppid())

    pids = client.gather(client.submit([pid(tasks.const(str(i))) for i in range(12)]))
    assert str(cluster.count_worker.pid).encode() in pids, "no Python task ran on the count worker"
    assert count_worker_status(client, cluster)["tasks_done"] > before


def test_bad_config_fails_with_the_tasks_message(client):
    with pytest.raises(TaskFailed) as info:
        client.submit_one(my_count(tasks.const("abc"), "ab")).gather()
    assert "my/count expects 1 input and a 1-byte config" in str(info.value)
    assert info.value.task_type == "my/count"


def test_array_input_fails_with_the_tasks_message(client):
    array = tasks.array_make((tasks.const("a"), tasks.const("b")))
    with pytest.raises(TaskFailed) as info:
        client.submit_one(my_count(array, "a")).gather()
    assert "my/count needs a plain or file object" in str(info.value)


def test_consumers_of_own_tasks(client):
    counted = my_count(tasks.const("mississippi"), "s")

    @tasks.py_task()
    def decode(a):
        import struct
        return str(struct.unpack("<Q", a.read())[0])

    assert client.submit_one(decode(counted)).gather() == b"4"
    merged = tasks.merge((my_count(tasks.const("aa"), "a"), my_count(tasks.const("aaa"), "a")))
    assert client.submit_one(merged).gather() == struct.pack("<QQ", 2, 3)


def test_plain_worker_refuses_the_type(make_cluster, make_client):
    plain = make_cluster(workers=1, cpus=1)
    c = make_client(plain.address)
    with pytest.raises(LoomException) as info:
        c.submit_one(my_count(tasks.const("banana"), "a"))
    assert "unknown task type 'my/count'" in str(info.value)
    assert "no connected worker offers it" in str(info.value)
    # The client and server go on.
    assert c.submit_one(tasks.const("fine")).gather() == b"fine"


def test_type_refused_once_its_only_worker_left(make_cluster, make_client):
    c_cluster = make_cluster(workers=1, cpus=1)
    count = c_cluster.add_worker(program="treadle-count-worker", cpus=2)
    c_cluster.wait_for_workers(2)
    c = make_client(c_cluster.address)
    cpus = {w["name"].rsplit(":", 1)[1]: w["cpus"] for w in c.status()["workers"]}
    assert cpus[str(count.pid)] == 2  # --cpus 2, the usual command line
    assert u64(c.submit_one(my_count(tasks.const("banana"), "n")).gather()) == 2

    count.terminate()
    count.wait(10)
    # Once the server knows the worker is gone, the type is refused again.
    deadline = time.monotonic() + 15
    while True:
        try:
            f = c.submit_one(my_count(tasks.const("banana"), "a"))
        except LoomException as error:
            assert "my/count" in str(error)
            break
        with pytest.raises(TaskFailed) as info:
            f.gather()  # submitted while the server still counted the worker: it fails instead
        assert "my/count" in str(info.value)
        assert time.monotonic() < deadline, "the type was never refused"
        time.sleep(0.1)
    assert c.submit_one(tasks.const("still serving")).gather() == b"still serving"


def test_local_cluster_of_count_workers(make_cluster, make_client):
    only = make_cluster(workers=2, cpus=1, worker_program="treadle-count-worker")
    names = {psutil.Process(w.pid).name() for w in only.workers}
    assert names == {"treadle-count-worker"}
    c = make_client(only.address)
    futures = c.submit([my_count(tasks.const("x" * i), "x") for i in range(10)])
    assert [u64(v) for v in c.gather(futures)] == list(range(10))
    assert os.path.basename(only.workers[0].args[0]) == "treadle-count-worker"
