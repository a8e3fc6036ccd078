"""Failures reach the client as clear exceptions, and the server keeps serving after each.

The ``client`` fixture checks after every test that the cluster is whole and still computes.
"""

import pytest

from tests.conftest import assert_serving
from treadle.loom.client import Client, LoomException, Task, TaskFailed, tasks


def failure_of(client, task):
    with pytest.raises(TaskFailed) as info:
        client.submit_one(task).gather()
    return info.value


# -- tasks that fail on a worker -------------------------------------------------------------------

def test_open_of_a_missing_file(client, tmp_path):
    path = str(tmp_path / "no-such-file.txt")
    e = failure_of(client, tasks.open(path))
    assert path in str(e)
    assert "No such file or directory" in str(e)
    assert e.task_type == "loom/data/open"


def test_save_into_a_missing_directory(client, tmp_path):
    path = str(tmp_path / "missing-dir" / "out.txt")
    e = failure_of(client, tasks.save(tasks.const("x"), path))
    assert path in str(e)


def test_failing_program(client):
    e = failure_of(client, tasks.run(("/bin/sh", "-c", "echo some output; echo the reason >&2; exit 3")))
    assert "Program terminated with status 3" in str(e)
    assert "Stderr:\nthe reason" in str(e)
    assert "some output" not in str(e)


def test_a_program_killed_by_a_signal_has_no_empty_stderr_section(client):
    e = failure_of(client, tasks.run(("/bin/sh", "-c", "kill -SEGV $$")))
    assert str(e).splitlines()[0].endswith("Program terminated by signal 11 (Segmentation fault)"), str(e)
    assert "Stderr:" not in str(e), str(e)


def test_stdin_is_called_stdin_in_errors(client):
    e = failure_of(client, tasks.run("cat", stdin=tasks.array_make((tasks.const("a"), tasks.const("b")))))
    assert "input 0 (stdin) is array" in str(e) and "+in" not in str(e), str(e)


def test_program_killed_by_a_signal(client):
    e = failure_of(client, tasks.run(("/bin/sh", "-c", "kill -9 $$")))
    assert "signal 9" in str(e)


def test_missing_program(client):
    e = failure_of(client, tasks.run("no-such-program-xyz --flag"))
    assert "cannot execute 'no-such-program-xyz'" in str(e)


def test_missing_output_file(client):
    e = failure_of(client, tasks.run("/bin/true", outputs=("result.txt",)))
    assert "result.txt" in str(e)


def test_long_stderr_is_kept_in_the_message(client):
    e = failure_of(client, tasks.run(("/bin/sh", "-c", "head -c 300000 /dev/zero | tr '\\0' a >&2; echo END >&2; exit 1")))
    assert "END\n(on worker " in str(e)  # the end, where the cause usually is, then where it ran
    assert len(str(e)) < 300000


def test_stderr_that_is_not_utf8(client):
    e = failure_of(client, tasks.run(("/bin/sh", "-c", "printf 'bad \\377\\376 bytes' >&2; exit 1")))
    assert "bad" in str(e) and "bytes" in str(e)


def test_wrong_config_of_a_builtin(client):
    e = failure_of(client, Task("loom/base/get", (tasks.const("a"),), b"xx"))
    assert "loom/base/get" in str(e)
    e = failure_of(client, Task("loom/run/run", (), b"{not json"))
    assert "not valid JSON" in str(e)


def test_get_of_a_plain_object(client):
    e = failure_of(client, tasks.get(tasks.const("abc"), 0))
    assert "loom/base/get" in str(e)


def test_failed_input_names_the_origin(client):
    bad = tasks.run(("/bin/sh", "-c", "echo broken >&2; exit 1"))
    bad.label = "the bad one"
    middle = tasks.merge((bad, tasks.const("x")))
    top = tasks.merge((middle, tasks.const("y")))
    f_top, f_bad = client.submit((top, bad))
    with pytest.raises(TaskFailed) as info:
        f_top.wait()
    e = info.value
    assert e.task_id == f_top.task_id
    assert e.origin_id == f_bad.task_id != f_top.task_id
    assert e.label == "the bad one"
    assert "input task {} (the bad one) failed".format(f_bad.task_id) in str(e)
    assert "Stderr:\nbroken" in str(e)
    with pytest.raises(TaskFailed) as info:
        f_bad.wait()
    assert info.value.task_id == info.value.origin_id == f_bad.task_id
    client.release((f_top, f_bad))


def test_failed_future_as_an_input_of_a_later_plan(client):
    bad = client.submit_one(tasks.run("/bin/false"))
    with pytest.raises(TaskFailed):
        bad.wait()
    later = client.submit_one(tasks.merge((bad, tasks.const("z"))))
    with pytest.raises(TaskFailed) as info:
        later.gather()
    assert info.value.origin_id == bad.task_id
    bad.release()


def test_one_failure_among_many_results(client):
    good = [tasks.const(str(i)) for i in range(20)]
    futures = client.submit(good + [tasks.run("/bin/false")])
    with pytest.raises(TaskFailed):
        client.gather(futures)
    # gather is fetch() then release(): a failed fetch releases nothing, so the healthy results
    # stay readable (and are released by a gather that succeeds)
    assert not any(f.released() for f in futures)
    assert client.gather(futures[:20]) == [str(i).encode() for i in range(20)]
    assert all(f.released() for f in futures[:20])


def test_resubmitting_after_a_failure(client, tmp_path):
    path = tmp_path / "appears-later.txt"
    with pytest.raises(TaskFailed):
        client.submit_one(tasks.open(str(path))).gather()
    path.write_text("now it exists")
    assert client.submit_one(tasks.open(str(path))).gather() == b"now it exists"


# -- plans the client or the server refuses -----------------------------------------------------

def test_cycle_of_task_objects(client):
    a = Task("loom/data/merge")
    b = Task("loom/data/merge", (a,))
    a.inputs = (b,)
    with pytest.raises(LoomException, match="cycle"):
        client.submit_one(tasks.merge((a, tasks.const("x"))))
    self_loop = Task("loom/data/merge")
    self_loop.inputs = (self_loop,)
    with pytest.raises(LoomException, match="cycle"):
        client.submit_one(self_loop)


def test_unknown_task_type(client):
    def my_count(input, character):
        task = Task()
        task.task_type = "my/count"
        task.inputs = (input,)
        task.config = character
        return task

    with pytest.raises(LoomException) as info:
        client.submit_one(my_count(tasks.const("abcabc"), "a"))
    assert "my/count" in str(info.value)
    assert not isinstance(info.value, TaskFailed)


def test_task_without_a_type(client):
    with pytest.raises(LoomException, match="task_type"):
        client.submit_one(Task())


def test_wrong_inputs_and_configs_of_task_objects(client):
    with pytest.raises(TypeError):
        client.submit_one(Task("loom/data/merge", (tasks.const("a"), 5)))
    with pytest.raises(LoomException, match="config"):
        client.submit_one(Task("loom/data/merge", (tasks.const("a"),), 5))
    with pytest.raises(LoomException, match="resource_request"):
        client.submit_one(Task("loom/data/const", (), b"", resource_request=4))
    with pytest.raises(TypeError):
        client.submit(["not a task"])


@pytest.mark.parametrize("make", [
    lambda: tasks.const(5),
    lambda: tasks.const(None),
    lambda: tasks.merge("abc"),
    lambda: tasks.merge(tasks.const("a")),
    lambda: tasks.merge((tasks.const("a"),), 5),
    lambda: tasks.open(None),
    lambda: tasks.save(tasks.const("a"), 5),
    lambda: tasks.get(tasks.const("a"), "0"),
    lambda: tasks.get(tasks.const("a"), 1.5),
    lambda: tasks.slice(tasks.const("a"), None, 2),
    lambda: tasks.sleep("1"),
    lambda: tasks.run(123),
    lambda: tasks.run("/bin/cat", inputs=[tasks.const("a")]),
    lambda: tasks.run("/bin/cat", request=2),
    lambda: tasks.array_make(tasks.const("a")),
    lambda: tasks.cpus("2"),
], ids=lambda f: None)
def test_wrong_argument_types(make):
    with pytest.raises(TypeError):
        make()


@pytest.mark.parametrize("make", [
    lambda: tasks.open(""),
    lambda: tasks.get(tasks.const("a"), -1),
    lambda: tasks.get(tasks.const("a"), 1 << 64),
    lambda: tasks.slice(tasks.const("a"), -1, 2),
    lambda: tasks.split(tasks.const("a"), ",;"),
    lambda: tasks.sleep(-1),
    lambda: tasks.sleep(float("nan")),
    lambda: tasks.run(""),
    lambda: tasks.run(()),
    lambda: tasks.run("/bin/cat", inputs=[(tasks.const("a"), "/etc/passwd")]),
    lambda: tasks.run("/bin/cat", inputs=[(tasks.const("a"), "../up")]),
    lambda: tasks.run("/bin/cat", inputs=[(tasks.const("a"), "f"), (tasks.const("b"), "f")]),
    lambda: tasks.run("/bin/cat", outputs=()),
    lambda: tasks.run("/bin/cat", outputs=("$X",)),
    lambda: tasks.cpus(-1),
], ids=lambda f: None)
def test_wrong_argument_values(make):
    with pytest.raises(ValueError):
        make()


@pytest.mark.timeout(30)
def test_absurd_cpu_request_is_refused(client):
    t = tasks.run("/bin/true", request=tasks.cpus(1 << 20))
    with pytest.raises(LoomException) as info:
        client.submit_one(t).wait()
    assert "cpu" in str(info.value)


# -- futures used wrongly -------------------------------------------------------------------------

def test_released_future(client):
    f = client.submit_one(tasks.const("a"))
    assert f.gather() == b"a"
    for use in (f.fetch, f.wait, f.gather,
                lambda: client.fetch((f,)),
                lambda: client.submit_one(tasks.merge((f,)))):
        with pytest.raises(LoomException, match="released"):
            use()
    f.release()  # releasing twice is harmless


def test_future_of_another_client(cluster, client, make_client):
    other = make_client(cluster.address)
    theirs = other.submit_one(tasks.const("theirs"))
    with pytest.raises(LoomException, match="another client"):
        client.submit_one(tasks.merge((theirs,)))
    with pytest.raises(LoomException):
        client.fetch((theirs,))
    with pytest.raises(LoomException):
        client.wait((theirs,))
    client.release((theirs,))  # ignored: not this client's
    assert theirs.gather() == b"theirs"


def test_client_to_nowhere(cluster):
    # a port where nothing listens: LoomException within the timeout, not a hang
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(LoomException, match="no treadle server"):
        Client("127.0.0.1", port, timeout=1.0)


def test_server_serves_after_all_of_the_above(client):
    assert_serving(client, workers=2)


def test_a_failure_names_the_worker_and_a_missing_module(client):
    @tasks.py_task()
    def needs_a_module(a):
        import treadle_no_such_module  # noqa: F401
        return b""

    with pytest.raises(TaskFailed) as info:
        client.submit_one(needs_a_module(tasks.const("x"))).wait()
    message = str(info.value)
    assert "No module named 'treadle_no_such_module'" in message
    names = [w["name"] for w in client.status()["workers"]]
    assert any("(on worker {})".format(name) in message for name in names), (message, names)
