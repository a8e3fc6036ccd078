"""Rain's Python API on real server and worker processes: @remote arguments and specs, spec and
info of tasks and objects, content types, sessions (bind_only, wait, release as objects stop
being needed, failures), get_server_info, and a worker killed mid-session."""

import signal
import warnings

import pytest

from tests.conftest import assert_serving, wait_until
from treadle.loom.client import Client as LoomClient
from treadle.rain.client import (Client, DataInstance, Input, Output, RainException, RainWarning, TaskException,
                                 blob, pickled, remote, tasks)
from treadle.rain.common import is_subtype


class Box:
    """A plain class holding data objects: they reach the task as DataInstances."""

    def __init__(self, items):
        self.items = items


@remote()
def describe(ctx, header, nested, box, *rest, scale=1, **named):
    def show(x):
        if isinstance(x, DataInstance):
            return x.get_bytes().decode()
        if isinstance(x, dict):
            return {k: show(v) for k, v in sorted(x.items())}
        if isinstance(x, (list, tuple)):
            return type(x)(show(v) for v in x)
        return x
    return repr((show(header), show(nested), show(box.items), show(rest), scale, show(named)))


@remote(inputs={"numbers": Input(load=True, content_type="json")})
def total(ctx, numbers, extra):
    return str(sum(numbers) + extra.load())


@remote()
def hinted(ctx, numbers: Input(content_type="json", load=True)) -> Output(encode="pickle", label="x"):
    return {"sum": sum(numbers)}


@remote(outputs=(Output(encode="pickle"), Output(encode="json"), Output("raw", content_type="mime/text/csv")))
def three(ctx):
    return [1, 2, 3], {"x": 123}, b"a,b\n1,2\n"


@remote(outputs=[Output("made", content_type="json")])
def wrong_type(ctx):
    return ctx.blob(b"\x80\x04", content_type="pickle")


@remote(outputs=[Output("made", content_type="mime/text")])
def subtype_made(ctx):
    return ctx.blob(b"<p/>", content_type="mime/text/html")


@remote()
def attributes(ctx, data):
    ctx.info.user["bar"] = [1, 2, ctx.spec.user["foo"], data.spec.user.get("origin")]
    ctx.debug("running at governor {}", ctx.info.governor)
    ctx.debug("input label {}", data.spec.label)
    return DataInstance(b"{}", "json")


@remote()
def fails_with_debug(ctx, data):
    ctx.debug("got {} bytes", len(data.get_bytes()))
    raise ValueError("cannot use " + data.get_bytes().decode())


@remote()
def echo(ctx, data):
    return data.get_bytes()


@remote()
def slow_echo(ctx, data, seconds):
    import time
    time.sleep(seconds)
    return data.get_bytes()


@pytest.fixture(scope="module")
def rain(cluster):
    client = Client(*cluster.address)
    yield client
    client.close()


@pytest.fixture
def loom(cluster):
    client = LoomClient(*cluster.address)
    yield client
    assert_serving(client, workers=2)
    client.close()


@pytest.mark.timeout(60)
def test_data_objects_nested_anywhere_in_arguments(rain):
    with rain.new_session() as session:
        a, b, c, d = blob("a"), blob(b"b"), blob("c"), blob("d")
        t = describe(a, {"list": [b, (c, "plain")], "n": 7}, Box([d, a]), tasks.Concat((a, b)), "x",
                     scale=2, extra={"deep": [[d]]})
        t.output.keep()
        session.submit()
        assert t.output.fetch().get_bytes().decode() == repr((
            "a", {"list": ["b", ("c", "plain")], "n": 7}, ["d", "a"], ("ab", "x"), 2,
            {"extra": {"deep": [["d"]]}}))
        # each distinct object is one input of the task (a and d appear twice)
        assert len(t.spec.inputs) == 5


@pytest.mark.timeout(60)
def test_input_load_content_type_and_type_hints(rain):
    with rain.new_session() as session:
        t = total(blob([1, 2, 3], encode="json"), pickled(10))
        untyped = total(blob(b"[4, 5]"), pickled(1))    # no content type: json is assumed
        h = hinted(blob("[7, 8]", content_type="json"))
        for x in (t, untyped, h):
            x.output.keep()
        session.submit()
        assert t.output.fetch().get_bytes() == b"16"
        assert untyped.output.fetch().get_bytes() == b"10"
        assert h.output.label == "x" and h.output.content_type == "pickle"
        assert h.output.fetch().load() == {"sum": 15}
    with rain.new_session() as session:
        total(pickled([1]), pickled(0))
        session.submit()
        with pytest.raises(TaskException, match="argument numbers of total: the data object 'const' has content type "
                                                "'pickle', but the function asks for 'json'"):
            session.wait_all()


@pytest.mark.timeout(60)
def test_outputs_encode_content_types_and_the_subtype_check(rain):
    with rain.new_session() as session:
        t = three()
        ok = subtype_made()
        t.keep_outputs()
        ok.output.keep()
        session.submit()
        first, second, raw = t.fetch_outputs()
        assert (first.content_type, first.load()) == ("pickle", [1, 2, 3])
        assert (second.content_type, second.load()) == ("json", {"x": 123})
        assert raw.content_type == "mime/text/csv" and raw.get_bytes() == b"a,b\n1,2\n"
        with pytest.raises(RainException, match="cannot be loaded: use get_bytes"):
            raw.load()
        made = ok.output.fetch()
        assert (ok.output.spec.content_type, made.content_type) == ("mime/text", "mime/text/html")
        assert ok.output.info.content_type == "mime/text/html"
    with rain.new_session() as session:
        wrong = wrong_type()
        wrong.output.keep()
        session.submit()
        with pytest.raises(TaskException, match="output 'made' of wrong_type: the task made content type 'pickle', "
                                                "which is not a sub-type of the declared 'json'"):
            wrong.output.fetch()


def test_the_subtype_rule():
    assert is_subtype("json", "") and is_subtype("", None) and is_subtype("text-latin1", "text")
    assert is_subtype("mime/text/csv", "mime/text") and is_subtype("pickle", "cloudpickle")
    assert not is_subtype("", "json") and not is_subtype("user/ab", "user/a") and not is_subtype("textual", "text")
    with pytest.raises(ValueError, match="content type 'jsonx' is not recognized"):
        blob(b"", content_type="jsonx")


@pytest.mark.timeout(60)
def test_arrow_names_the_missing_module_and_user_types_pass_through(rain):
    try:
        import pyarrow  # noqa: F401 - only whether it is there
        pytest.skip("pyarrow is installed here")
    except ImportError:
        pass
    with rain.new_session() as session:
        with pytest.raises(RainException, match="content type 'arrow' needs the module pyarrow"):
            blob([1, 2], encode="arrow")
        u = blob(b"\x00opaque", content_type="user/my-format")
        echo(u)
        u.keep()
        session.submit()
        got = u.fetch()
        assert (got.content_type, got.get_bytes()) == ("user/my-format", b"\x00opaque")
        session.wait_all()


@remote()
def typed_when_run(ctx, kind):
    """An output declared without a content type, typed when the task runs."""
    if kind == "json":
        return ctx.blob(b'{"made": "at run time"}', content_type="json")
    if kind == "pickle":
        return ctx.pickled({"made": "at run time"})
    return "some text"   # a str for an untyped output: "text"


@remote()
def what_arrived(ctx, data):
    return "{} {} {} {!r}".format(data.content_type, data.spec.content_type, data.info.content_type, data.load())


@remote(inputs={"data": Input(content_type="json")})
def wants_json(ctx, data):
    return b"read"


@pytest.mark.timeout(60)
def test_a_content_type_set_at_run_time_is_what_consumers_and_fetch_see(rain):
    with rain.new_session() as session:
        made = {kind: typed_when_run(kind) for kind in ("json", "pickle", "text")}
        seen = {kind: what_arrived(t) for kind, t in made.items()}
        for t in list(made.values()) + list(seen.values()):
            t.output.keep()
        session.submit()
        # as in Rain: the info's content type when the producer set one, else the spec's
        assert seen["json"].output.fetch().get_bytes() == b"json  json {'made': 'at run time'}"
        assert seen["pickle"].output.fetch().get_bytes() == b"pickle  pickle {'made': 'at run time'}"
        assert seen["text"].output.fetch().get_bytes() == b"text  text 'some text'"
        for kind, t in made.items():
            fetched = t.output.fetch()
            assert fetched.content_type == kind and t.output.info.content_type == kind
            assert t.output.spec.content_type == "" and fetched.load() is not None
    # Input(content_type=) is checked against the type set at run time
    with rain.new_session() as session:
        wants_json(typed_when_run("json")).output.keep()
        session.submit()
        session.wait_all()
    with rain.new_session() as session:
        wrong = wants_json(typed_when_run("pickle"))
        wrong.output.keep()
        session.submit()
        with pytest.raises(TaskException, match=r"content type 'pickle', but the function asks for 'json'"):
            session.wait_all()


@pytest.mark.timeout(60)
def test_spec_and_info_of_tasks_and_objects(rain):
    governors = {g["governor_id"] for g in rain.get_server_info()["governors"]}
    with rain.new_session() as session:
        data = blob("input")
        data.spec.user["origin"] = "test"
        t = attributes(data, name="attrs/demo")
        t.spec.user["foo"] = 42
        c = tasks.Concat((data, blob("!")))
        t.output.keep()
        c.output.keep()
        assert t.info is None and t.spec.id is None
        session.submit()
        session.wait_all()
        t.update()
        assert t.info.user["bar"] == [1, 2, 42, "test"]
        assert t.info.debug.splitlines() == ["running at governor " + t.info.governor, "input label const"]
        assert t.info.governor in governors
        assert t.info.error == "" and t.info.duration >= 0 and t.info.start_time.endswith("+00:00")
        assert t.name == "attrs/demo" and t.spec.resources == {"cpus": 1} and t.spec.task_type
        assert [i.id for i in t.spec.inputs] == [data.spec.id] and t.spec.outputs == [t.output.spec.id]
        assert t.output.info is not None and t.output.info.content_type == "json"
        assert c.output.fetch().get_bytes() == b"input!"
        assert c.output.info.size == 6 and c.output.info.content_type == ""
        assert c.info.governor in governors and c.spec.inputs[1].label == "const"
        assert c.output.spec.label == "output" and c.output.spec.data_type == "blob"


@pytest.mark.timeout(60)
def test_debug_lines_end_the_error_of_a_failed_task(rain):
    with rain.new_session() as session:
        t = fails_with_debug(blob("abc"))
        session.submit()
        with pytest.raises(TaskException) as caught:
            session.wait_all()
        error = caught.value
        assert error.task is t and error.debug == "got 3 bytes"
        message = str(error)
        assert message.startswith("Task <Task fails_with_debug id=")
        assert "ValueError: cannot use abc" in message
        assert message.index("ValueError: cannot use abc") < message.index("Debug:\ngot 3 bytes")


@pytest.mark.timeout(60)
def test_bind_only_and_waiting_for_some(rain):
    session = rain.new_session(name="bound")
    with session.bind_only():
        a = blob("Hello world")
        t1 = tasks.Sleep(a, 0.05)
        t2 = tasks.Sleep(a, 0.3)
    assert not session.closed
    session.submit()
    t1.wait()
    session.wait([t1, t2.output])
    assert t2.state == "finished"
    with pytest.raises(RainException, match="was not submitted"):
        with session.bind_only():
            session.wait([tasks.Sleep(blob("x"), 0)])
    session.close()
    session.close()   # closing twice is fine


@pytest.mark.timeout(60)
def test_unkept_objects_go_as_soon_as_nothing_needs_them(rain, loom):
    with rain.new_session() as session:
        first = echo(blob("x" * 1000))
        middle = tasks.Concat((first, blob("!")))
        last = slow_echo(middle, 0.2)
        kept = echo(blob("kept"))
        kept.output.keep()
        last.output.keep()
        session.submit()
        assert last.output.fetch().get_bytes() == b"x" * 1000 + b"!"
        # no wait_all, no close: the server freed the objects nobody kept once used
        states = lambda: rain.core.states([first.task_id, middle.task_id])  # noqa: E731
        wait_until(lambda: states() == ["released", "released"], what="the unkept objects freed")
        assert rain.core.states([last.task_id, kept.task_id]) == ["finished", "finished"]
        kept.output.unkeep()
        wait_until(lambda: rain.core.states([kept.task_id]) == ["released"], what="the unkept object freed")
        with pytest.raises(RainException, match="is not kept"):
            kept.output.fetch()


@pytest.mark.timeout(60)
def test_fetch_of_an_object_kept_in_an_earlier_submit(rain):
    with rain.new_session() as session:
        a = blob("Hello world")
        t1 = tasks.Sleep(a, 0.05)
        t1.output.keep()
        session.submit()
        session.wait_all()
        t2 = echo(t1.output)
        t2.output.keep()
        session.submit()
        assert t2.output.fetch().get_bytes() == b"Hello world"
        assert t1.output.fetch().get_bytes() == b"Hello world"
        with pytest.raises(RainException, match="was not kept at its submit"):
            tasks.Concat((a,))
        with pytest.raises(RainException, match="was not kept at its submit"):
            echo([a])


@pytest.mark.timeout(90)
def test_a_failed_session_raises_its_error_on_every_call_others_carry_on(make_cluster):
    cluster = make_cluster(workers=2, cpus=1)
    client = Client(*cluster.address)
    bad = client.new_session(name="bad")
    good = client.new_session(name="good")
    with bad.bind_only():
        slow = [slow_echo(blob(str(i)), 0.5) for i in range(4)]
        failing = fails_with_debug(blob("oops"))
    bad.submit()
    with good.bind_only():
        results = [echo(blob(str(i))) for i in range(20)]
        for r in results:
            r.output.keep()
    good.submit()
    with pytest.raises(TaskException, match="cannot use oops") as caught:
        bad.wait_all()
    first = caught.value
    for call in (bad.submit, bad.wait_all, lambda: bad.wait(slow), lambda: slow[0].update(),
                 lambda: failing.update()):
        with pytest.raises(TaskException) as again:
            call()
        assert again.value is first
    assert [r.output.fetch().get_bytes() for r in results] == [str(i).encode() for i in range(20)]
    bad.close()
    good.close()
    loom = LoomClient(*cluster.address)
    wait_until(lambda: loom.status()["states"]["running"] == 0, what="the bad session's tasks cancelled")
    assert_serving(loom, workers=2)
    loom.close()
    client.close()


@pytest.mark.timeout(90)
def test_a_worker_killed_mid_session(make_cluster):
    cluster = make_cluster(workers=2, cpus=1, server_args=["--worker-timeout", "1000"])
    client = Client(*cluster.address)
    with client.new_session() as session:
        parts = [slow_echo(blob(str(i)), 0.2) for i in range(8)]
        joined = tasks.Concat([p.output for p in parts])
        joined.output.keep()
        session.submit()
        wait_until(lambda: any(w["tasks"] for w in client.get_server_info()["governors"]),
                   what="tasks running")
        victim = cluster.workers[0]
        victim.send_signal(signal.SIGKILL)
        victim.wait(5)
        assert joined.output.fetch().get_bytes() == b"01234567"
        session.wait_all()
        later = echo(joined)
        later.output.keep()
        session.submit()
        assert later.output.fetch().get_bytes() == b"01234567"
    assert len(client.get_server_info()["governors"]) == 1
    client.close()


@remote()
def held_until(ctx, path):
    """Runs until the test creates ``path`` (so it is seen running, however loaded the machine)."""
    import os
    import time
    deadline = time.monotonic() + 60
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    return b"released"


@pytest.mark.timeout(90)
def test_server_info_lists_each_governors_tasks_and_objects(make_cluster, tmp_path):
    cluster = make_cluster(workers=2, cpus=2)
    client = Client(*cluster.address)

    def governors():
        return client.get_server_info()["governors"]

    def idle():
        # Rain's test_get_info: an idle server's governors have no tasks and no objects
        return all(g["tasks"] == [] and g["objects"] == [] and g["objects_to_delete"] == [] for g in governors())
    try:
        info = client.get_server_info()
        assert len(info["governors"]) == 2 and idle()
        for governor in info["governors"]:
            assert int(governor["resources"]["cpus"]) == 2
            assert governor["governor_id"].startswith("127.0.0.1:")
        with client.new_session() as session:
            kept = [echo(blob(str(i))) for i in range(4)]
            for t in kept:
                t.output.keep()
            gate = tmp_path / "go"
            held = held_until(str(gate))
            session.submit()
            session.wait(kept)
            # the running task, by its (session, id), on the governor that runs it
            where = wait_until(lambda: [g["governor_id"] for g in governors() if held.id in g["tasks"]],
                               what="the held task listed")
            held.update()
            assert where == [held.info.governor]
            # every kept object on some governor; the blobs nobody kept go once read, and the
            # function @remote sends with its calls is not listed
            wanted = {t.output.spec.id for t in kept}
            wait_until(lambda: {o for g in governors() for o in g["objects"]} == wanted,
                       what="the kept objects listed, and only they")
            assert all(o.session_id == session.session_id for o in wanted)
            gate.touch()
            session.wait_all()
        wait_until(idle, what="the closed session's tasks and objects gone")
    finally:
        client.close()


def test_a_large_pickled_argument_warns(rain):
    with rain.new_session(name="warned"):
        with pytest.warns(RainWarning, match="argument data of echo pickles to .* bytes .more than 262144."):
            echo(b"x" * 300000)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            echo(b"x" * 1000)
