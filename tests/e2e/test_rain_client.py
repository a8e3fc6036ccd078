"""The start of Rain's API (treadle.rain.client) on real server and worker processes: sessions,
blob/pickled, Concat, Sleep and @remote with several outputs."""

import pytest

from tests.conftest import assert_serving, wait_until
from treadle.loom.client import Client as LoomClient
from treadle.rain.client import Client, Output, RainException, SessionException, TaskException, blob, pickled, remote, tasks


@remote()
def hello(ctx, data):
    return data.get_bytes() + b" from a task"


@remote(outputs=["words", "count"])
def split(ctx, text):
    words = text.get_bytes().split()
    return {"words": b",".join(words), "count": str(len(words))}


@remote(outputs=[Output("total", content_type="pickle"), Output("mean", content_type="json")], auto_load=True)
def stats(ctx, numbers, scale):
    return sum(numbers) * scale, sum(numbers) / len(numbers)


@remote(outputs=["a", "b"])
def slow_pair(ctx, data):
    import time
    time.sleep(600)
    return {"a": b"1", "b": b"2"}


@remote(outputs=2)
def broken(ctx, data):
    raise ValueError("broken on " + data.get_bytes().decode())


@pytest.fixture
def rain(make_cluster):
    cluster = make_cluster(workers=2, cpus=1)
    client = Client(*cluster.address)
    yield client, cluster
    client.close()


@pytest.mark.timeout(60)
def test_concat_and_fetch_as_the_guide_does(rain):
    client, _ = rain
    with client.new_session(name="hello") as session:
        a = blob("Hello ")
        b = blob(b"world!")
        t = tasks.Concat((a, tasks.Sleep(b, 0.1)))
        t.output.keep()
        session.submit()
        assert t.output.fetch().get_bytes() == b"Hello world!"
        session.wait_all()
    assert a.content_type == "text"


@pytest.mark.timeout(60)
def test_remote_with_two_outputs_feeds_two_tasks(rain):
    client, _ = rain
    with client.new_session() as session:
        text = blob("rain on treadle today")
        parts = split(text)
        assert parts.outputs["count"] is parts.outputs[1]
        with pytest.raises(RainException, match="2 outputs"):
            parts.output
        joined = tasks.Concat((parts.outputs["count"], blob(":"), parts.outputs["words"]))
        greeting = hello(parts.outputs["words"])
        joined.output.keep()
        greeting.output.keep()
        parts.keep_outputs()
        session.submit()
        assert joined.output.fetch().get_bytes() == b"4:rain,on,treadle,today"
        assert greeting.output.fetch().get_bytes() == b"rain,on,treadle,today from a task"
        assert [d.get_bytes() for d in parts.fetch_outputs()] == [b"rain,on,treadle,today", b"4"]
        session.wait_all()


@pytest.mark.timeout(60)
def test_remote_outputs_with_content_types_and_auto_load(rain):
    client, _ = rain
    with client.new_session() as session:
        s = stats(pickled([1, 2, 3, 6]), 10)
        s.keep_outputs()
        session.submit()
        total, mean = s.fetch_outputs()
        assert (total.content_type, total.load()) == ("pickle", 120)
        assert (mean.content_type, mean.load()) == ("json", 3.0)


@pytest.mark.timeout(60)
def test_a_failing_task_fails_its_session_only(rain):
    client, cluster = rain
    bad_session = client.new_session(name="bad", default=True)
    b = broken(blob("input"))
    b.keep_outputs()
    bad_session.submit()
    good_session = client.new_session(name="good", default=True)
    g = hello(blob("fine"))
    g.output.keep()
    good_session.submit()
    with pytest.raises(TaskException, match="broken on input"):
        bad_session.wait_all()
    with pytest.raises(TaskException, match="broken on input"):  # every later call raises it
        bad_session.submit()
    assert g.output.fetch().get_bytes() == b"fine from a task"
    good_session.close()
    bad_session.close()
    loom = LoomClient(*cluster.address)
    assert_serving(loom, workers=2)
    loom.close()


@pytest.mark.timeout(60)
def test_a_cancelled_task_never_reads_finished(rain):
    """Rain has no word for a task cancelled before it finished (an interrupted %%treadle
    submit cancels a Rain job so): its update() must not call it finished; it stays submitted."""
    client, _ = rain
    with client.new_session(name="cancelled") as session:
        t = hello(tasks.Sleep(blob("x"), 30))
        t.output.keep()
        session.submit()
        report = client.core.cancel([t.handle])
        assert report.cancelled in (2, 3), report   # the task, its sleep (and its blob, if not made yet)
        t.update()
        assert t.state == "submitted"
        assert client.core.connection.states([t.task_id]) == ["cancelled"]


@pytest.mark.timeout(60)
def test_closing_a_session_stops_its_tasks_kept_or_not(rain):
    """Rain's guide: a closed session is terminated, its running tasks stopped. An unkept output
    is released "when done", so releasing the session's holds alone left its tasks running."""
    client, cluster = rain
    session = client.new_session(name="closed early")
    with session.bind_only():
        unkept = [tasks.Sleep(blob(str(i)), 60) for i in range(4)]
        kept = tasks.Sleep(blob("k"), 60)
        kept.output.keep()
    session.submit()
    ids = [t.task_id for t in unkept + [kept]]
    session.close()
    states = client.core.connection.states(ids)
    assert not {"ready", "assigned", "running", "finished"} & set(states), states
    loom = LoomClient(*cluster.address)
    assert_serving(loom, workers=2)   # the cpus the sleeps held are free again
    loom.close()


def _running(client, task):
    return lambda: client.core.connection.states([task.task_id]) == ["running"]


@pytest.mark.timeout(60)
def test_a_task_with_several_unkept_outputs_is_cancelled_by_its_task(rain):
    """A task whose outputs nobody kept (the client holds its outputs, released "when done"):
    cancelling it by its task (an interrupt's or %treadle stop's way) cancels it and its
    outputs; another task's kept output stays fetchable."""
    client, cluster = rain
    with client.new_session(name="cancel by task") as session:
        kept = tasks.Concat((blob("kept "), blob("here")))
        kept.output.keep()
        pair = slow_pair(blob("x"))
        session.submit()
        wait_until(_running(client, pair), what="the task with two outputs running")
        # Given also one of its outputs' handles (one id, named once), it is cancelled all the same.
        report = client.core.cancel([pair.handle, pair.handle.outputs[0]])
        assert report.cancelled >= 1, report
        assert client.core.connection.states([pair.task_id]) == ["cancelled"]
        assert pair.handle.cancelled() and all(o.cancelled() for o in pair.handle.outputs)
        assert kept.output.fetch().get_bytes() == b"kept here"
    loom = LoomClient(*cluster.address)
    assert_serving(loom, workers=2)   # the cpu the task held is free again
    loom.close()


@pytest.mark.timeout(60)
def test_closing_a_session_cancels_a_task_with_several_unkept_outputs(rain):
    client, cluster = rain
    other = client.new_session(name="kept elsewhere")
    with other.bind_only():
        kept = tasks.Concat((blob("kept "), blob("here")))
        kept.output.keep()
    other.submit()
    session = client.new_session(name="closed")
    with session.bind_only():
        pair = slow_pair(blob("x"))
    session.submit()
    wait_until(_running(client, pair), what="the task with two outputs running")
    session.close()
    assert client.core.connection.states([pair.task_id]) == ["cancelled"]
    assert kept.output.fetch().get_bytes() == b"kept here"
    other.close()
    loom = LoomClient(*cluster.address)
    assert_serving(loom, workers=2)
    loom.close()


@pytest.mark.timeout(60)
def test_a_closed_session_is_named_by_its_name_else_its_id(rain):
    """An unnamed session's name is None: "session None is closed" said nothing; its id does."""
    client, _ = rain
    unnamed = client.new_session()
    named = client.new_session(name="data prep")
    for session in (unnamed, named):
        with session.bind_only():
            t = tasks.Concat((blob("a"), blob("b")))
            t.output.keep()
        session.submit()
        session.close()
        with pytest.raises(SessionException) as raised:
            t.output.fetch()
        called = "session {}".format(unnamed.session_id) if session is unnamed else "session 'data prep'"
        assert str(raised.value) == called + " is closed", str(raised.value)
        with pytest.raises(SessionException, match="^" + called + " is closed$"):
            session.bind_only().__enter__()
    assert repr(unnamed) == "<Session {}>".format(unnamed.session_id) and repr(named) == "<Session 'data prep'>"
