"""The code examples of HyperLoom's user guide, chapter "Python client", against real processes.

Only the import line changes (``loom.client`` -> ``treadle.loom.client``) and the server's
address (the guide assumes localhost:9010; a test cluster listens on a free port). Placeholders
of the guide ("task1 = ...", "/path/program1") are filled with small real programs.
Python tasks (py_task, py_call, py_value) and dslice/dget are not covered here.
"""

import textwrap

import pytest

from tests.conftest import ran_at_once, run_script, tasks_done
from treadle.loom.client import Future, Task, TaskFailed, tasks


# ---------------------------------------------------------------------------------------------
# Basic usage; submitting more tasks at once (run as scripts, as a user would)

def run_example(code, cluster):
    """Runs a guide example as a script against the cluster; returns its stdout."""
    code = textwrap.dedent(code).replace("9010", str(cluster.port))
    done = run_script(code, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_basic_usage(cluster):
    out = run_example("""
        from treadle.loom.client import Client, tasks

        task1 = tasks.const("Hello ") # Create a plain object
        task2 = tasks.const("world!") # Create a plain object
        task3 = tasks.merge((task1, task2)) # Merge two data objects together
        client = Client("localhost", 9010) # Create a client
        result = client.submit_one(task3) # Submit task
        print(result.gather()) # prints b"Hello world!"
    """, cluster)
    assert out == "b'Hello world!'\n"


def test_submitting_more_tasks_at_once(cluster):
    out = run_example("""
        from treadle.loom.client import Client, tasks

        task1 = tasks.const("Hello ") # Create a plain object
        task2 = tasks.const(" ") # Create a plain object
        task3 = tasks.const("world!") # Merge two data objects together

        client = Client("localhost", 9010) # Create a client
        results = client.submit((task1, task2, task3)) # Submit tasks; returns list of futures
        print(client.gather(results))
    """, cluster)
    # The guide's comment says [b"Hello world!", ...], a slip: each future is one constant.
    assert out == "[b'Hello ', b' ', b'world!']\n"


def test_future_operations(client):
    # wait(), fetch() (result stays), release(), gather() = fetch + release
    task3 = tasks.merge((tasks.const("Hello "), tasks.const("world!")))
    result = client.submit_one(task3)
    assert isinstance(result, Future)
    result.wait()
    assert result.fetch() == b"Hello world!"
    assert result.fetch() == b"Hello world!"  # fetch keeps the result on the workers
    assert not result.released()
    assert result.gather() == b"Hello world!"
    assert result.released()

    futures = client.submit([tasks.const(str(i)) for i in range(5)])
    client.wait(futures)
    assert client.fetch(futures) == [str(i).encode() for i in range(5)]
    client.release(futures)
    assert all(f.released() for f in futures)


# ---------------------------------------------------------------------------------------------
# Reusing futures as tasks inputs

def counting_task(log, text):
    """A run task that appends a line to `log` every time it runs, and outputs `text`."""
    return tasks.run(("/bin/sh", "-c", 'echo ran >> "$0"; printf %s "$1"', str(log), text))


def runs_logged(log):
    return len(log.read_text().splitlines()) if log.exists() else 0


def test_gradual_submission(client, tmp_path):
    log = tmp_path / "log"
    task1 = counting_task(log, "first ")
    f1 = client.submit_one(task1)  # submit task

    task2 = tasks.const("second")
    taskA = tasks.merge((f1, task2))  # a task that uses f1 and task2
    fA = client.submit_one(taskA)
    assert fA.gather() == b"first second"

    # f1 may be waited on and fetched and still be used afterwards
    f1.wait()
    assert f1.fetch() == b"first "
    fB = client.submit_one(tasks.merge((task2, f1), "+"))
    assert fB.gather() == b"second+first "
    assert runs_logged(log) == 1, "a future used as an input was computed again"
    assert f1.gather() == b"first "
    assert runs_logged(log) == 1


def test_reused_future_not_recomputed_in_status(client):
    f1 = client.submit_one(tasks.merge((tasks.const("a"), tasks.const("b"))))
    f1.wait()
    before = tasks_done(client)
    fs = client.submit([tasks.merge((f1, tasks.const(str(i)))) for i in range(10)])
    assert client.gather(fs) == [b"ab" + str(i).encode() for i in range(10)]
    # 10 merges and 10 consts ran; f1 and its two inputs did not run again
    assert tasks_done(client) - before == 20
    f1.release()


def test_bad_pattern_computes_task1_twice(client, tmp_path):
    log = tmp_path / "log"
    task1 = counting_task(log, "data\n")
    task2 = tasks.run("/usr/bin/wc -c", stdin=task1)
    f2 = client.submit_one(task2)
    task3 = tasks.run("/usr/bin/wc -c", stdin=task1)
    f3 = client.submit_one(task3)
    assert [r.strip() for r in client.gather((f2, f3))] == [b"5", b"5"]
    assert runs_logged(log) == 2  # "Task task1 is computed twice!"


def test_better_code_with_a_future(client, tmp_path):
    log = tmp_path / "log"
    task1 = counting_task(log, "data\n")
    f1 = client.submit_one(task1)
    task2 = tasks.run("/usr/bin/wc -c", stdin=f1)
    f2 = client.submit_one(task2)
    task3 = tasks.run("/usr/bin/wc -c", stdin=f1)
    f3 = client.submit_one(task3)
    assert [r.strip() for r in client.gather((f2, f3))] == [b"5", b"5"]
    assert runs_logged(log) == 1
    f1.release()


def test_better_code_in_one_submit(client, tmp_path):
    log = tmp_path / "log"
    task1 = counting_task(log, "data\n")
    task2 = tasks.run("/usr/bin/wc -c", stdin=task1)
    task3 = tasks.run("/usr/bin/wc -c", stdin=task1)
    f2, f3 = client.submit((task2, task3))
    assert [r.strip() for r in client.gather((f2, f3))] == [b"5", b"5"]
    assert runs_logged(log) == 1


# ---------------------------------------------------------------------------------------------
# Running external programs

def test_run_with_stdin(client):
    task1 = tasks.const("Loom is here\nnothing\nagain Loom\n")
    task_run = tasks.run("/bin/grep Loom", stdin=task1)
    assert client.submit_one(task_run).gather() == b"Loom is here\nagain Loom\n"


def test_run_with_explicit_arguments(client):
    task_run = tasks.run(("/usr/bin/python3", "-c", "import sys; print(sys.argv[1:])",
                          "--arg1", "argument with spaces"))
    assert client.submit_one(task_run).gather() == b"['--arg1', 'argument with spaces']\n"


def test_mapping_input_files(client):
    task_a = tasks.const("content of a\n")
    task_b = tasks.const("content of b\n")
    task_run = tasks.run("/bin/cat file1 file2",
                         [(task_a, "file1"), (task_b, "file2")])
    assert client.submit_one(task_run).gather() == b"content of a\ncontent of b\n"


def test_same_file_name_in_three_concurrent_tasks(client):
    task_a = tasks.const("A" * 1000)
    task_b = tasks.const("B" * 2000)
    task_c = tasks.const("C" * 3000)
    # Each program holds file1 open for a while, so the three overlap (4 cpus in the cluster).
    cat = ("/bin/sh", "-c", "sleep 0.5; cat file1; ls")
    task_1 = tasks.run(cat, [(task_a, "file1")])
    task_2 = tasks.run(cat, [(task_b, "file1")])
    task_3 = tasks.run(cat, [(task_c, "file1")])
    futures = client.submit((task_1, task_2, task_3))
    results = client.gather(futures)
    assert results == [b"A" * 1000 + b"file1\n", b"B" * 2000 + b"file1\n", b"C" * 3000 + b"file1\n"]
    assert ran_at_once(client, futures), "the three programs did not run at the same time"


def test_mapping_one_output_file(client):
    # program1 creates output.txt; its standard output is ignored
    program1 = ("/bin/sh", "-c", "echo result > output.txt; echo ignored")
    task = tasks.run(program1, outputs=("output.txt",))
    assert client.submit_one(task).gather() == b"result\n"


def test_mapping_two_output_files(client):
    program2 = ("/bin/sh", "-c", "printf one > output1.txt; printf two > output2.txt; echo ignored")
    task = tasks.run(program2, outputs=("output1.txt", "output2.txt"))
    assert client.submit_one(task).gather() == [b"one", b"two"]


def test_mapping_outputs_with_stdout(client):
    program3 = ("/bin/sh", "-c", "printf one > output1.txt; printf two > output2.txt; printf stdout")
    task = tasks.run(program3,
                     outputs=("output1.txt",  # 1st element of array is got from 'output1.txt'
                              None,  # 2nd element of array is stdout
                              "output2.txt"))  # 3rd element of array is got from 'output2.txt'
    assert client.submit_one(task).gather() == [b"one", b"stdout", b"two"]


def test_variables(client, tmp_path):
    (tmp_path / "alpha").write_text("")
    (tmp_path / "beta").write_text("")
    path = tasks.const(str(tmp_path))
    task = tasks.run("/bin/ls $PATH", [(path, "$PATH")])
    assert client.submit_one(task).gather() == b"alpha\nbeta\n"


def test_variable_inside_an_argument(client):
    name = tasks.const("world")
    task = tasks.run(("/bin/echo", "hello-$WHO!"), [(name, "$WHO")])
    assert client.submit_one(task).gather() == b"hello-world!\n"


# ---------------------------------------------------------------------------------------------
# Error handling

def test_error_handling(client):
    task = tasks.run("ls /non-existent-path")
    try:
        result = client.submit_one(task)
        result.wait()
    except TaskFailed as e:
        message = "Error: " + str(e)
        error = e
    else:
        pytest.fail("no TaskFailed")
    assert message.startswith("Error: Task id={} failed: Program terminated with status 2\n".format(result.task_id))
    assert "Stderr:\nls: cannot access '/non-existent-path': No such file or directory" in message
    assert error.task_id == error.origin_id == result.task_id
    assert error.task_type == "loom/run/run"


# ---------------------------------------------------------------------------------------------
# Labels and resource requests

def test_labels(client):
    task = tasks.const("Hello")
    task.label = "Initial data"
    task1, task2 = tasks.const("a"), tasks.const("b")
    task1.label = task2.label = "Init"
    task3 = tasks.merge((task1, task2))
    task3.label = "Compute: 1"
    task4 = tasks.merge((task3, task))
    task4.label = "Compute: 2"
    task5 = tasks.merge((task4,))
    task5.label = "End"
    assert client.submit_one(task5).gather() == b"abHello"

    failing = tasks.run("ls /non-existent-path")
    failing.label = "Compute: 3"
    with pytest.raises(TaskFailed) as info:
        client.submit_one(failing).wait()
    assert info.value.label == "Compute: 3"
    assert "(Compute: 3)" in str(info.value)


def test_resource_request(client):
    # as in the guide, with 2 cores: the cluster's workers have 2 cpus each
    t1 = tasks.run(("/bin/sh", "-c", "echo parallel"))
    t1.resource_request = tasks.cpus(2)
    assert client.submit_one(t1).gather() == b"parallel\n"
    assert tasks.run("/bin/true").resource_request == tasks.cpus(1)
    for light in (tasks.const("x"), tasks.merge(()), tasks.size(tasks.const("x"))):
        assert light.resource_request is None


# ---------------------------------------------------------------------------------------------
# Own tasks: Task() for a symbol the worker has

def test_own_task_with_a_builtin_symbol(client, tmp_path):
    def my_join(inputs, delimiter):
        task = Task()
        task.task_type = "loom/data/merge"
        task.inputs = inputs
        task.config = delimiter
        return task

    path = tmp_path / "file"
    path.write_text("from a file")
    t1 = tasks.open(str(path))
    t2 = my_join((t1, tasks.const("and a const")), " / ")
    result = client.submit_one(t2)
    assert result.gather() == b"from a file / and a const"
