"""Wrong input to the Python APIs is a clear error naming the argument, at the call, never a
silent no-op or a foreign message (tryout6 finding 5); the client goes on working after it."""

import pytest

import treadle
from treadle.ipython.client import Task as IPythonTask
from treadle.rain.client import Client as RainClient
from treadle.rain.client import blob, tasks as rain_tasks


@pytest.fixture
def native(cluster):
    c = treadle.Client(cluster, output=None)
    yield c
    c.close()


@pytest.mark.parametrize("bad", [42, None, [object()], "text"])
def test_wait_cancel_release_story_refuse_what_is_not_futures(native, bad):
    treadle.set_default_client(native)
    try:
        for call, name in [(treadle.wait, r"treadle\.wait\(\)"), (native.wait, r"treadle\.wait\(\)"),
                           (native.cancel, r"client\.cancel\(\)"), (native.release, r"client\.release\(\)"),
                           (native.story, r"client\.story\(\)")]:
            with pytest.raises(TypeError, match=name + " takes futures"):
                call(bad)
    finally:
        treadle.set_default_client(None)
    f = native.submit(abs, -3)
    native.wait(iter([f]))
    assert native.story([f]) is not None and native.cancel((f,)).ended == 1 and f.result() == 3


@pytest.mark.parametrize("address, error, text", [
    (42, TypeError, "give the server as 'host:port', \\(host, port\\) or a LocalCluster, not 42"),
    ("127.0.0.1:notaport", ValueError, "port must be a number from 0 to 65535, not 'notaport'"),
    (("127.0.0.1", 70000), ValueError, "port must be a number from 0 to 65535, not 70000"),
])
def test_client_with_a_bad_address_says_so(address, error, text):
    with pytest.raises(error, match=text):
        treadle.Client(address)


def test_rain_tasks_check_their_arguments_when_made(cluster):
    client = RainClient(*cluster.address)
    try:
        with client.new_session():
            data = blob(b"x")
            with pytest.raises(ValueError, match="Execute: args must name a program"):
                rain_tasks.Execute("")
            with pytest.raises(TypeError, match="Concat takes a list of blobs"):
                rain_tasks.Concat(42)
            with pytest.raises(ValueError, match="Sleep: seconds must be 0 or more, not -1"):
                rain_tasks.Sleep(data, -1)
            with pytest.raises(TypeError, match="Sleep: seconds must be a number, not str"):
                rain_tasks.Sleep(data, "1")
    finally:
        client.close()


def test_ipython_task_pull_must_be_names():
    with pytest.raises(TypeError, match="pull must be a name or a list of names, not 42"):
        IPythonTask("a = 1", pull=42).checked()
