"""Why is this task here? ``client.story(future)`` through the real path: the server's transition
log, the `story` request, the binding and both clients (docs/protocol.md, treadle.core.story)."""

import re
import signal

import pytest

import treadle
from treadle.core import story
from tests.conftest import _kill_all, assert_serving, python_program, tagged_processes, wait_until
from treadle.loom.client import Client, LoomException, TaskFailed, tasks

PLACEMENTS = {"chained", "locality", "with_consumer", "least_loaded", "only_fit", "only_worker", "stolen"}


def gate(path, request=tasks.cpus(1)):
    """A program that runs until `path` exists: the test decides when it ends."""
    code = "import os, sys, time\nwhile not os.path.exists(sys.argv[2]): time.sleep(0.01)"
    return tasks.run(python_program(code, str(path)), request=request)


def state_of(client, future):
    return client.states([future])[0]


def steps_of(story):
    return [(s.from_state, s.to_state, s.reason) for s in story.steps]


def pid_of(client, address):
    """The pid of the worker with this data address (its name is host:pid)."""
    worker = next(w for w in client.status()["workers"] if w["address"] == address)
    return int(worker["name"].rsplit(":", 1)[1])


def test_a_finished_tasks_story(client, tmp_path):
    opened = tmp_path / "open"
    first = gate(opened)
    second = tasks.run("cat", stdin=first, request=tasks.cpus(2))  # more cpus than its input: never chained
    first_future, future = client.submit([first, second])
    wait_until(lambda: state_of(client, first_future) == "running", what="the input running")

    waiting = client.story(future)[0]
    assert waiting.state == "waiting"
    running_on = client.story(first_future)[0].steps[-1].worker
    assert waiting.why.startswith("waiting for 1 of its 1 input: task {} ".format(first_future.task_id))
    assert "running on " + running_on in waiting.why
    told = str(client.story(future))
    assert "not running: waiting for 1 of its 1 input" in told
    running_name = next(w["name"] for w in client.status()["workers"] if w["address"] == running_on)
    assert "running on " + running_name in told and running_on not in told, told

    opened.touch()
    client.wait([future])
    story = client.story(future)
    record = story[0]
    assert (record.id, record.state, record.why, record.failure, record.note) == (future.task_id, "finished", None,
                                                                                 None, None)
    assert steps_of(record) == [
        (None, "waiting", "submitted"),
        ("waiting", "ready", "inputs finished"),
        ("ready", "assigned", "placed on a worker"),
        ("assigned", "running", "worker started it"),
        ("running", "finished", "worker reported the result"),
    ]
    workers = {w["address"] for w in client.status()["workers"]}
    where = record.steps[2].worker
    assert where in workers
    assert [s.worker for s in record.steps] == [None, None, where, where, where]
    assert record.steps[2].placement in PLACEMENTS
    assert all(s.placement is None for s in record.steps if s.to_state != "assigned")
    times = [s.time_us for s in record.steps]
    assert times == sorted(times)
    text = str(story)
    assert text.startswith("task {}: finished\n".format(future.task_id))
    # in the text, workers are named as status and failures name them (host:pid)
    name = next(w["name"] for w in client.status()["workers"] if w["address"] == where)
    assert "+0.000 s" in text and "to " + name in text and "on " + name in text and where not in text
    assert repr(story) == text
    client.release([first_future, future])


def test_the_native_clients_story(cluster):
    with treadle.Client(cluster) as native:
        @treadle.task(label="double")
        def double(x):
            return 2 * x

        future = double(21)
        assert future.result() == 42
        story = native.story(future)
        assert len(story) == 1 and story.records[0].state == "finished"
        assert [s.to_state for s in story[0].steps][-1] == "finished"
        assert str(story).startswith("task {} (double): finished\n".format(future.task_id))


def test_a_call_without_future_arguments_says_what_drew_it(cluster):
    # Its pickled function is an input: the second call goes where the first left the function,
    # and the story says so rather than leaving "most of the input bytes" of "no inputs" a riddle.
    with treadle.Client(cluster) as native:
        def plus_one(x):
            return x + 1

        assert native.submit(plus_one, 1).result() == 2
        later = native.submit(plus_one, 2)
        assert later.result() == 3
        story = native.story(later)
        placed = [s for s in story[0].steps if s.to_state == "assigned"]
        assert [s.placement for s in placed] == ["locality"], story[0].steps
        assert "(locality: it holds most of the input bytes, a Python call's pickled function included)" in \
            str(story), str(story)


def test_a_task_without_inputs_is_placed_by_load(client):
    [future] = client.submit([tasks.run("true")])
    client.wait([future])
    [placed] = [s for s in client.story(future)[0].steps if s.to_state == "assigned"]
    assert placed.placement in {"least_loaded", "only_fit", "only_worker"}, placed


def test_a_task_without_inputs_says_so_plainly(client):
    """Ready at its submission: a task with no inputs says it has none, not that they finished;
    one whose inputs had all finished before it was submitted says that."""
    [source] = client.submit([tasks.const("x")])
    client.wait([source])
    [reader] = client.submit([tasks.run("cat", stdin=source)])
    client.wait([reader])
    first = client.story(source)[0].steps[1]
    assert (first.from_state, first.to_state, first.reason) == ("waiting", "ready", "submitted; it has no inputs")
    assert re.search(r"waiting -> ready +submitted; it has no inputs\n", str(client.story(source))), client.story(source)
    first = client.story(reader)[0].steps[1]
    assert (first.from_state, first.to_state, first.reason) == ("waiting", "ready", "submitted with its inputs finished")
    client.release([source, reader])


def test_a_failed_tasks_story_says_why(client):
    failing = tasks.run(python_program("import sys; sys.exit('no luck with this input')"))
    dependent = tasks.merge((failing, tasks.const("x")))
    futures = client.submit([failing, dependent])
    with pytest.raises(TaskFailed):
        client.wait(futures)
    own, other = client.story(futures)
    assert own.state == "failed"
    assert own.steps[-1][1:4] == ("running", "failed", "it failed")
    assert own.steps[-1].worker is not None
    assert "no luck with this input" in own.failure
    assert other.state == "failed"
    assert other.steps[-1].reason == "an input failed"
    assert "input task {}".format(futures[0].task_id) in other.failure
    assert "failed: " in str(client.story(futures))
    client.release(futures)


@pytest.mark.timeout(60)
def test_a_lost_worker_shows_in_the_story_and_the_run_on_the_other(make_cluster, tmp_path):
    cluster = make_cluster(workers=2, cpus=1, server_args=["--worker-timeout", "1000"])
    client = Client(*cluster.address)
    opened = tmp_path / "open"
    future = client.submit_one(gate(opened))
    wait_until(lambda: state_of(client, future) == "running", what="the task running")
    lost = client.story(future)[0].steps[-1].worker
    lost_name = next(w["name"] for w in client.status()["workers"] if w["address"] == lost)
    victim = next(w for w in cluster.workers if w.pid == pid_of(client, lost))
    victim.send_signal(signal.SIGKILL)
    victim.wait(5)
    wait_until(lambda: state_of(client, future) == "running" and len(client.status()["workers"]) == 1,
               timeout=15, what="the task running on the other worker")
    opened.touch()
    client.wait([future])
    record = client.story(future)[0]
    steps = [(s.from_state, s.to_state, s.reason, s.worker) for s in record.steps]
    loss = steps.index(("running", "waiting", "its worker was lost", lost))
    survivor = client.status()["workers"][0]["address"]
    assert survivor != lost
    assert steps[loss + 1:] == [
        ("waiting", "ready", "inputs available again", None),
        ("ready", "assigned", "placed on a worker", survivor),
        ("assigned", "running", "worker started it", survivor),
        ("running", "finished", "worker reported the result", survivor),
    ]
    # Named as status named it while it was connected (and as the other steps name workers),
    # with its address, which no status shows any more.
    assert record.steps[loss].worker_name == lost_name
    assert "its worker was lost ({} at {})".format(lost_name, lost) in str(client.story(future))
    assert "on {}\n".format(lost_name) in str(client.story(future))   # where it ran before
    client.close()
    _kill_all(tagged_processes())  # the killed worker's program, if its guard did not end it yet


@pytest.mark.timeout(60)
def test_a_task_placed_again_after_its_worker_was_lost_says_so(make_cluster, tmp_path):
    """A consumer chained behind its running input on a worker that is lost goes back to waiting
    and is placed again (chained behind its input's rerun on the other worker): its story says it
    was placed again because that worker was lost, naming it, not only "chained behind its inputs"."""
    cluster = make_cluster(workers=2, cpus=1, server_args=["--worker-timeout", "1000"])
    client = Client(*cluster.address)
    opened = tmp_path / "open"
    first = gate(opened)
    second = tasks.run("cat", stdin=first)   # the same cpus as its input: chained behind it
    first_future, future = client.submit([first, second])
    wait_until(lambda: state_of(client, first_future) == "running" and state_of(client, future) == "assigned",
               what="the input running, its consumer chained behind it")
    lost = client.story(first_future)[0].steps[-1].worker
    lost_name = next(w["name"] for w in client.status()["workers"] if w["address"] == lost)
    victim = next(w for w in cluster.workers if w.pid == pid_of(client, lost))
    victim.send_signal(signal.SIGKILL)
    victim.wait(5)
    wait_until(lambda: state_of(client, first_future) == "running" and len(client.status()["workers"]) == 1,
               timeout=15, what="the input running on the other worker")
    survivor = client.status()["workers"][0]
    opened.touch()
    client.wait([future])
    record = client.story(future)[0]
    placed = [s for s in record.steps if s.to_state == "assigned"]
    assert [(s.worker, s.placement) for s in placed] == [(lost, "chained"), (survivor["address"], "chained")], \
        record.steps
    told = str(client.story(future))
    again = "placed again because worker {} was lost (chained behind its inputs on the same worker), to {}".format(
        lost_name, survivor["name"])
    assert again in told, told
    assert told.count("chained behind its inputs") == 2, told   # its first placement reads as it did
    # The input, placed by load after the loss, says the same; the hover's last steps too.
    told = str(client.story(first_future))
    assert "placed again because worker {} was lost (".format(lost_name) in told, told
    hover = story.last_steps(client.story(future)[0], count=4)
    assert any(line.startswith("waiting -> assigned: placed again because worker {} was lost".format(lost_name))
               for line in hover), hover
    client.close()
    _kill_all(tagged_processes())  # the killed worker's program, if its guard did not end it yet


@pytest.mark.timeout(60)
def test_a_task_needing_more_cpus_than_any_worker_says_so(make_cluster, make_client, tmp_path):
    cluster = make_cluster(workers=2, cpus=1)
    client = make_client(cluster.address)
    opened = tmp_path / "open"
    blocker = gate(opened)
    first, wide = client.submit([blocker, tasks.run("cat", stdin=blocker, request=tasks.cpus(4))])
    wait_until(lambda: state_of(client, first) == "running", what="the input running")
    record = client.story(wide)[0]
    assert record.state == "waiting"
    assert record.why.endswith("; and it needs 4 cpus; the largest worker has 1")
    opened.touch()
    with pytest.raises(TaskFailed) as failure:
        client.wait([wide])
    assert "it needs 4 cpus; the largest worker has 1" in str(failure.value)
    record = client.story(wide)[0]
    assert record.state == "failed" and "the largest worker has 1" in record.failure
    client.release([first, wide])


@pytest.mark.timeout(60)
def test_without_workers_the_story_says_so(make_cluster, make_client):
    cluster = make_cluster(workers=0)
    client = make_client(cluster.address)
    future = client.submit_one(tasks.const("hello"))
    record = client.story(future)[0]
    assert (record.state, record.why) == ("ready", "no workers are connected")
    assert "not running: no workers are connected" in str(client.story(future))
    cluster.add_worker()
    assert future.gather() == b"hello"


@pytest.mark.timeout(60)
def test_a_task_out_of_the_record_has_an_empty_story_and_a_note(make_cluster, make_client):
    cluster = make_cluster(workers=1, cpus=1)
    client = make_client(cluster.address)
    old = client.submit_one(tasks.const("old"))
    client.wait([old])
    assert client.story(old)[0].note is None
    # 30,000 tasks of 4 transitions each: more than the 100,000 the server keeps
    client.submit_one(tasks.merge([tasks.const(str(i)) for i in range(30000)], ",")).gather()
    record = client.story(old)[0]
    assert (record.state, record.steps) == ("finished", [])
    assert "rolled over" in record.note
    assert "note: the record of this task has rolled over" in str(client.story(old))


def test_bad_story_requests_get_errors_and_the_server_goes_on(client):
    conn = client.connection
    with pytest.raises(LoomException, match="task 1000000000000 does not exist"):
        conn.story([10 ** 12])
    with pytest.raises(LoomException, match="does not exist"):
        client.story(10 ** 12)
    with pytest.raises(LoomException, match="'ids' must be a list of at most 1000"):
        conn.story(list(range(1001)))
    assert conn.story([]) == []
    given_out = client.status()["tasks"]
    assert [r.id for r in client.story(list(range(given_out)))] == list(range(given_out))
    assert_serving(client)
