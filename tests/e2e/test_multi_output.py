"""Tasks with several outputs (Rain's model) with real server and worker processes: each output
is its own data object, fetched, used, freed and recomputed on its own."""

import signal

import pytest

from tests.conftest import assert_serving, wait_until
from treadle.core.errors import LoomException, TaskFailed
from treadle.core.plan import encode
from treadle.core.task import py_call, py_value
from treadle.loom.client import Client, tasks


def pair(left, right, labels=("left", "right")):
    """A task with two outputs: the two objects given."""
    return tasks.array_make((tasks.const(left), tasks.const(right))).declare_outputs(list(labels))


def split_words(text):
    words = text.read().split()
    return {"first": words[0], "rest": b" ".join(words[1:])}


def fails_with_two_outputs(text):
    raise ValueError("no outputs for " + text.read().decode())


def transfers_of_output(client, output):
    return [e for e in client.trace()["events"] if e["kind"] == "transfer" and e.get("output") == output]


@pytest.mark.timeout(60)
def test_two_outputs_feed_two_consumers_on_two_workers(make_cluster):
    cluster = make_cluster(workers=2, cpus=1)
    client = Client(*cluster.address)
    two = pair("abc", "xyz")
    # Two consumers that each hold a cpu for a while: on 1-cpu workers they run on both, so one
    # of them fetches its output from the other worker.
    uses = [tasks.sleep(0.5, tasks.merge((two.output("left"), tasks.const("!")))) for _ in range(2)]
    for u in uses:
        u.resource_request = tasks.cpus(1)
    uses.append(tasks.merge((two.output(1), two.output(0)), "+"))
    futures = client.submit(uses)
    assert client.gather(futures) == [b"abc!", b"abc!", b"xyz+abc"]
    started_on = {e["worker"] for e in client.trace()["events"] if e["kind"] == "task" and e["size"] == 4}
    assert len(started_on) == 2, "the two cpu consumers should run on both workers"
    moved = [e for e in client.trace()["events"] if e["kind"] == "transfer"]
    assert moved and all(e["task"] == e["object"] & ((1 << 40) - 1) for e in moved)
    assert_serving(client, workers=2)
    client.close()


@pytest.mark.timeout(60)
def test_one_output_kept_one_released(make_cluster):
    # Megabytes through one worker on a loaded machine: a stalled loop must not pass for a lost worker.
    cluster = make_cluster(workers=1, cpus=1, server_args=["--worker-timeout", "20000"])
    client = Client(*cluster.address)
    big = 4 * 1024 * 1024
    future = client.submit_one(pair(b"small", b"x" * big))
    kept, dropped = future.output("left"), future.output("right")
    assert client.fetch([kept]) == [b"small"]
    assert len(client.fetch([dropped])[0]) == big
    # The worker holds both; releasing one output frees it there, the other stays.
    wait_until(lambda: client.status()["workers"][0].get("store", 0) >= big, timeout=10, what="the store sample")
    dropped.release()
    wait_until(lambda: client.status()["workers"][0].get("store", big) < big, timeout=10,
               what="the released output freed on the worker")
    assert client.fetch([kept]) == [b"small"]
    with pytest.raises(LoomException, match="was released"):
        client.fetch([dropped])
    # A new task may use the kept output, not the released one.
    assert client.submit_one(tasks.merge((kept, tasks.const("!")))).gather() == b"small!"
    with pytest.raises(LoomException, match="was released and cannot be used"):
        client.submit_one(tasks.merge((future.outputs[1],)))
    with pytest.raises(LoomException, match="has 2 outputs: fetch one of them"):
        client.fetch([future])
    future.release()
    assert_serving(client, workers=1)
    client.close()


@pytest.mark.timeout(90)
def test_outputs_of_a_killed_worker_are_recomputed(make_cluster):
    cluster = make_cluster(workers=1, cpus=1, server_args=["--worker-timeout", "1000"])
    client = Client(*cluster.address)
    fn = py_value(split_words)
    two = py_call(fn, (tasks.const("alpha beta gamma"),), outputs=["first", "rest"])
    future = client.submit_one(two)
    consumer = client.submit_one(tasks.merge((future.output("rest"), tasks.const("."))))
    assert consumer.gather() == b"beta gamma."
    # Only the first worker holds the outputs; a second joins, the first is killed.
    cluster.add_worker()
    cluster.wait_for_workers(2)
    first = cluster.workers[0]
    first.send_signal(signal.SIGKILL)
    first.wait(5)
    wait_until(lambda: len(client.status()["workers"]) == 1, timeout=10, what="the server dropping the worker")
    assert client.fetch([future.output("first"), future.output("rest")]) == [b"alpha", b"beta gamma"]
    recomputed = [e for e in client.trace()["events"] if e["kind"] == "task" and e.get("outputs") == 2]
    assert len(recomputed) == 2, "the two-output task ran once more"
    client.close()


@pytest.mark.timeout(60)
def test_a_failing_multi_output_task_among_healthy_ones(make_cluster):
    cluster = make_cluster(workers=2, cpus=1)
    client = Client(*cluster.address)
    bad = py_call(py_value(fails_with_two_outputs), (tasks.const("input 1"),), outputs=2)
    wrong_count = py_call(py_value(split_words), (tasks.const("a b"),), outputs=["first", "second"])
    good = [pair(str(i), str(i * i)) for i in range(20)]
    futures = client.submit([bad, wrong_count] + good)
    with pytest.raises(TaskFailed, match="no outputs for input 1"):
        client.wait([futures[0]])
    with pytest.raises(TaskFailed, match="declared 2 outputs .'first', 'second'. but returned a dict with keys 'first', 'rest'"):
        client.wait([futures[1]])
    values = client.fetch([f.output(k) for f in futures[2:] for k in (0, 1)])
    assert values == [str(x).encode() for i in range(20) for x in (i, i * i)]
    # a consumer of the failed task's output fails with it, naming it
    with pytest.raises(TaskFailed, match="no outputs for input 1"):
        client.submit_one(tasks.merge((futures[0].output(1),))).gather()
    assert_serving(client, workers=2)
    client.close()


@pytest.mark.timeout(60)
def test_naming_an_output_a_task_has_not_is_a_clear_error(make_cluster):
    cluster = make_cluster(workers=1, cpus=1)
    client = Client(*cluster.address)
    two = pair("a", "b")
    with pytest.raises(IndexError, match="has 2 outputs: there is no output 3"):
        two.output(3)
    # Past the client's own check: the server refuses the plan and says why.
    bad = tasks.merge((two.output(0),))
    bad.inputs[0].index = 3
    with pytest.raises(LoomException, match="output 3 of <Task loom/array/make>, which has 2 outputs"):
        client.submit_one(bad)
    future = client.submit_one(two)
    one = client.submit_one(tasks.const("one"))
    raw = client.connection
    plan = encode([tasks.merge((tasks.const("x"),))], None)
    # A future's output 3 on the wire: the server refuses the plan, naming the task.
    plan.inputs = (future.task_id | 3 << 40 | 0).to_bytes(8, "little")
    plan.input_counts = (1).to_bytes(4, "little") + (0).to_bytes(4, "little")
    with pytest.raises(Exception, match="uses output 3 of task {} .*which has 2 outputs".format(future.task_id)):
        raw.submit(plan)
    with pytest.raises(Exception, match="has no output 1"):
        raw.fetch([one.task_id | 1 << 40])
    assert client.fetch([future.output(1)]) == [b"b"]
    assert_serving(client, workers=1)
    client.close()
