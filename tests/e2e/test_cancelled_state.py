"""A task cancelled before it finished is "cancelled" on the server, never "released" (which
means finished, result freed): in states and stories, with the tasks that needed it, once its
plan is freed, and after the worker it ran on is killed."""

import signal
import time

import pytest

import treadle.report
import treadle.trace
from tests.conftest import assert_serving, wait_until
from treadle.loom.client import Client, tasks


def plan_of_a_running_task(client):
    """A running task, a dependent waiting for it and one waiting for that (all kept), and a
    finished input of the first: (futures running → last, the finished input)."""
    @tasks.py_task()   # defined here: pickled by value, as the executors cannot import this file
    def slow(data):
        time.sleep(60)
        return data.read()

    @tasks.py_task()
    def plus(data):
        return data.read() + b"+"

    source = tasks.const("x")
    running = slow(source)
    middle = plus(running)
    last = plus(middle)
    futures = client.submit((source, running, middle, last))
    wait_until(lambda: client.states(futures[1:2]) == ["running"], timeout=30, what="the slow task running")
    assert client.states(futures[2:]) == ["waiting", "waiting"]
    wait_until(lambda: client.states(futures[:1]) == ["finished"], what="the input finished")
    return futures[1:], futures[0]


def freed(client, futures):
    """Whether the server freed the plan of these tasks (its story no longer has a plan)."""
    return all(s["submitted_us"] is None for s in client.connection.story([f.task_id for f in futures]))


@pytest.mark.timeout(60)
def test_a_cancelled_task_and_its_dependents_say_cancelled_also_once_their_plan_is_freed(make_cluster):
    cluster = make_cluster(workers=2)
    client = Client(*cluster.address)
    futures, source = plan_of_a_running_task(client)
    report = client.cancel(futures + [source])
    assert report.cancelled == 3 and report.ended == 1, report
    assert client.states(futures) == ["cancelled"] * 3
    stories = client.story(futures)
    assert stories[0].steps[-1][1:4] == ("running", "cancelled", "nobody needs it any more"), stories[0].steps
    assert [s.steps[-1][2] for s in stories[1:]] == ["cancelled", "cancelled"]
    assert all(s.state == "cancelled" and "will not run" in s.why for s in stories), stories
    assert client.status()["states"]["cancelled"] == 3
    # The trace marks the one that was running on its worker (the others never reached one);
    # the report and the Perfetto export tell it.
    trace = client.trace()
    marks = [e for e in trace["events"] if e["kind"] == "cancelled"]
    assert [(e["task"], e["running"]) for e in marks] == [(futures[0].task_id, True)], marks
    report = treadle.report.render(trace["events"])
    assert "1 tasks cancelled before they finished" in report and '<h3 id="cancelled">Cancelled</h3>' in report
    exported = [e for e in treadle.trace.chrome_trace(trace)["traceEvents"] if e.get("cat") == "cancelled"]
    assert [e["name"] for e in exported] == ["slow cancelled (running)"], exported   # named by its label
    # The finished input is released (its result freed), not cancelled.
    client.release([source])
    wait_until(lambda: client.states([source]) == ["released"], what="the input released")
    # The server frees the plan: what it remembers of those tasks still tells them apart.
    wait_until(lambda: freed(client, futures + [source]), timeout=15, what="the plan freed")
    assert client.states(futures + [source]) == ["cancelled"] * 3 + ["released"]
    assert all(s.state == "cancelled" and "will not run" in s.why for s in client.story(futures))
    assert_serving(client, workers=2)
    client.close()


@pytest.mark.timeout(60)
def test_a_worker_killed_after_a_cancel_leaves_its_tasks_cancelled(make_cluster):
    cluster = make_cluster(workers=2, server_args=["--worker-timeout", "1000"])
    client = Client(*cluster.address)
    futures, source = plan_of_a_running_task(client)
    busy = [w for w in client.status()["workers"] if w["running"] == 1]
    assert len(busy) == 1, client.status()
    victim_pid = int(busy[0]["name"].rsplit(":", 1)[1])
    victim = next(w for w in cluster.workers if w.pid == victim_pid)
    client.cancel(futures)
    victim.send_signal(signal.SIGKILL)
    victim.wait(5)
    wait_until(lambda: len(client.status()["workers"]) == 1, timeout=10, what="the server dropping the worker")
    # Not recomputed, not sent back to waiting: nobody needs them.
    assert client.states(futures) == ["cancelled"] * 3
    assert all("waiting" not in [step[2] for step in s.steps[1:]] for s in client.story(futures))
    assert client.gather([source]) == [b"x"]   # its input was on a worker: it is computed again
    assert_serving(client, workers=1)
    client.close()
