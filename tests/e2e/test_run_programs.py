"""loom/run/run beyond the guide's examples: data in and out, sandboxes, variables, refusals."""

import json
import os

import pytest

from treadle.loom.client import Task, TaskFailed, tasks


def gather(client, task):
    return client.submit_one(task).gather()


def raw_run(args, inputs, outputs, task_inputs=()):
    """A run task with a hand-written config: what a client that skips the checks could send."""
    config = json.dumps({"args": args, "inputs": inputs, "outputs": outputs})
    return Task("loom/run/run", task_inputs, config, resource_request=tasks.cpus(1))


def test_large_binary_data_through_stdin_and_stdout(client):
    data = os.urandom(12 << 20)
    assert gather(client, tasks.run("/bin/cat", stdin=tasks.const(data))) == data


def test_no_stdin_reads_as_empty(client):
    assert gather(client, tasks.run("/bin/cat")) == b""


def test_fresh_directory_removed_afterwards(client):
    listing = gather(client, tasks.run(("/bin/sh", "-c", "pwd; ls -A"), [(tasks.const("1"), "mapped")]))
    cwd, *files = listing.decode().splitlines()
    assert files == ["mapped"]
    assert not os.path.exists(cwd), "the sandbox was left behind"


def test_stdin_files_and_variables_together(client):
    task = tasks.run(("/bin/sh", "-c", 'echo "$0"; cat f1 sub/f2; cat -', "$NAME"),
                     [(tasks.const("one\n"), "f1"), (tasks.const("two\n"), "sub/f2"), (tasks.const("Ann"), "$NAME")],
                     stdin=tasks.const("from stdin\n"))
    assert gather(client, task) == b"Ann\none\ntwo\nfrom stdin\n"


def test_variables_keep_spaces_and_repeat(client):
    task = tasks.run(("/usr/bin/python3", "-c", "import sys; print(sys.argv[1:])", "$A-$B", "$A"),
                     [(tasks.const("x y"), "$A"), (tasks.const("z"), "$B")])
    assert gather(client, task) == b"['x y-z', 'x y']\n"


def test_file_object_as_an_input(client, tmp_path):
    path = tmp_path / "in.txt"
    path.write_text("b\na\nc\n")
    assert gather(client, tasks.run("/usr/bin/sort data", [(tasks.open(str(path)), "data")])) == b"a\nb\nc\n"


def test_output_in_a_subdirectory(client):
    task = tasks.run(("/bin/sh", "-c", "mkdir -p out/deep; printf r > out/deep/res.txt"), outputs=("out/deep/res.txt",))
    assert gather(client, task) == b"r"


def test_stderr_of_a_successful_program_is_ignored(client):
    assert gather(client, tasks.run(("/bin/sh", "-c", "echo warning >&2; echo ok"))) == b"ok\n"


def test_array_result_feeds_get_and_other_programs(client):
    produce = tasks.run(("/bin/sh", "-c", "printf 1 > a; printf 2 > b; printf 3"), outputs=("a", "b", None))
    second = tasks.get(produce, 1)
    task = tasks.run("/bin/cat x y", [(second, "x"), (tasks.get(produce, 2), "y")])
    assert gather(client, task) == b"23"
    assert gather(client, tasks.length(produce)) == (3).to_bytes(8, "little")


def test_output_that_is_a_directory(client):
    with pytest.raises(TaskFailed, match="not a regular file"):
        gather(client, tasks.run(("/bin/sh", "-c", "mkdir d"), outputs=("d",)))


@pytest.mark.parametrize("script,output", [
    ("ln -s /etc/hostname out", "out"),
    ("mkdir d && ln -s /etc d/e", "d/e/hostname"),
], ids=["link", "linked-folder"])
def test_outputs_that_are_links_are_refused(client, script, output):
    # a link would let a task read any file the worker can read
    with pytest.raises(TaskFailed, match="is a link"):
        gather(client, tasks.run(("/bin/sh", "-c", script), outputs=(output,)))


def test_program_that_is_not_executable(client):
    with pytest.raises(TaskFailed, match="cannot execute '/etc/hostname'"):
        gather(client, tasks.run("/etc/hostname"))


@pytest.mark.parametrize("inputs,outputs,where", [
    (["../escape"], ["+out"], "input"),
    (["/tmp/abs"], ["+out"], "input"),
    (["+in"], ["/etc/hostname"], "output"),
    (["+in"], ["../../x"], "output"),
], ids=["input-up", "input-absolute", "output-absolute", "output-up"])
def test_worker_refuses_paths_leaving_the_sandbox(client, inputs, outputs, where):
    # the client's tasks.run() refuses these too; the worker must not rely on it
    with pytest.raises(TaskFailed) as info:
        gather(client, raw_run(["/bin/cat"], inputs, outputs, (tasks.const("a"),)))
    assert "{} file name".format(where) in str(info.value)
    assert "inside the sandbox" in str(info.value)


def test_many_programs_at_once(client):
    futures = client.submit([tasks.run(("/bin/echo", str(i))) for i in range(60)])
    assert client.gather(futures) == ["{}\n".format(i).encode() for i in range(60)]
