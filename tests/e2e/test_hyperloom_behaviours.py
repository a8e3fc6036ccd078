"""Behaviours of HyperLoom's client that a HyperLoom user meets, where treadle used to differ
(issue 9): future methods, submitting futures, index slices, save's errors, checkpoints,
direct arguments, dslice/dget of objects without pieces."""

import pytest

from treadle.loom.client import Future, LoomException, TaskFailed, tasks


# ---------------------------------------------------------------------------------------------
# Future.finished() and Future.released() are methods

def test_finished_and_released_are_methods(client):
    f = client.submit_one(tasks.const("abcde"))
    f.wait()
    assert f.finished() is True
    assert f.released() is False
    assert f.fetch() == b"abcde"
    f.release()
    assert f.released() is True
    assert f.finished() is False   # as HyperLoom: a released future is no longer "finished"


def test_finished_asks_the_server_before_any_wait(client):
    f = client.submit_one(tasks.const("x"))
    from tests.conftest import wait_until
    wait_until(f.finished, what="the future to finish")
    assert f.gather() == b"x"
    assert f.released()


def test_gather_all_releases_every_future(client):
    fa, fb = client.submit_one(tasks.const("abcde")), client.submit_one(tasks.const("xyz"))
    assert client.fetch((fa, fb)) == [b"abcde", b"xyz"]
    assert not fa.released() and not fb.released()
    assert client.gather((fa, fb)) == [b"abcde", b"xyz"]
    assert fa.released() and fb.released()
    fa.release()   # twice is harmless
    assert fa.released()


# ---------------------------------------------------------------------------------------------
# Submitting a future itself raises, as HyperLoom's "... is not a task"

def test_submitting_a_future_raises(client):
    f = client.submit_one(tasks.const("x"))
    with pytest.raises(TypeError, match="is not a task"):
        client.submit_one(f)
    with pytest.raises(TypeError, match="is not a task"):
        client.submit((tasks.const("y"), f))
    # the future is untouched and still usable as an input
    assert client.submit_one(tasks.merge((f, tasks.const("y")))).gather() == b"xy"
    assert f.gather() == b"x"


def test_submitting_a_released_future_raises(client):
    f = client.submit_one(tasks.const("x"))
    f.gather()
    with pytest.raises(TypeError, match="is not a task"):
        client.submit_one(f)


# ---------------------------------------------------------------------------------------------
# py_task(n_direct_args=N) called with fewer arguments

def test_py_task_with_fewer_direct_args_than_declared(client):
    @tasks.py_task(n_direct_args=2)
    def greet(name="nobody", punctuation="!"):
        return "hello {}{}".format(name, punctuation)

    assert client.submit_one(greet()).gather() == b"hello nobody!"
    assert client.submit_one(greet("you")).gather() == b"hello you!"
    assert client.submit_one(greet("you", "?")).gather() == b"hello you?"


def test_py_task_missing_a_required_direct_arg_fails_as_a_task(client):
    @tasks.py_task(n_direct_args=1)
    def repeat(n, a):
        return n * a.read()

    with pytest.raises(TaskFailed, match="argument"):
        client.submit_one(repeat()).gather()


# ---------------------------------------------------------------------------------------------
# A slice of an index is the bytes of those lines (one D-object); a get is one line's bytes

def test_slice_and_get_of_an_index_are_bytes(client):
    text = "Line1\nLine2\nLine3\nLine4"
    lines = tasks.split(tasks.const(text))
    got = client.gather(client.submit((tasks.get(lines, 1), tasks.get(lines, 3), tasks.slice(lines, 0, 2),
                                       tasks.slice(lines, 10, 20), tasks.slice(lines, 1, 99))))
    assert got == [b"Line2\n", b"Line4", b"Line1\nLine2\n", b"", b"Line2\nLine3\nLine4"]


def test_slice_of_an_index_of_a_file_is_a_d_object(client, tmp_path):
    path = tmp_path / "lines.txt"
    path.write_text("".join("Line {}\n".format(i) for i in range(1, 13)))
    part = tasks.slice(tasks.split(tasks.open(str(path))), 2, 6)
    assert client.submit_one(part).gather().decode() == "".join("Line {}\n".format(i) for i in range(3, 7))
    # a D-object: it merges and has no pieces
    assert client.submit_one(tasks.merge((part, tasks.const("end")))).gather().endswith(b"Line 6\nend")
    assert client.submit_one(tasks.length(part)).gather() == (0).to_bytes(8, "little")


def test_an_index_inside_an_array_travels_between_workers(client):
    a = tasks.split(tasks.const("AAA\nBBB\n\nC\nDDDDDDDDDDD\nEEE"))
    b = tasks.split(tasks.const("E\n\n"))
    x = tasks.get(tasks.array_make((a, b)), 0)
    assert client.gather(client.submit((tasks.get(x, 0), tasks.get(x, 1), tasks.slice(x, 2, 4)))) == \
        [b"AAA\n", b"BBB\n", b"\nC\n"]


# ---------------------------------------------------------------------------------------------
# save() to a relative path fails as the task's error

def test_save_to_a_relative_path_fails_as_a_task(client):
    with pytest.raises(TaskFailed, match="absolute path, got 'relative.txt'") as info:
        client.submit_one(tasks.save(tasks.const("x"), "relative.txt")).gather()
    assert info.value.task_type == "loom/data/save"
    assert client.submit_one(tasks.const("still serving")).gather() == b"still serving"


# ---------------------------------------------------------------------------------------------
# task.checkpoint_path

def counted(log):
    """A program that appends a line to `log` each time it runs, then prints "ran"."""
    return tasks.run(["/bin/sh", "-c", 'echo x >> "$0"; printf ran', str(log)])


def test_checkpoint_is_written_when_computed(client, tmp_path):
    t3 = tasks.merge((tasks.const("abcd"), tasks.const("XYZ")))
    path = tmp_path / "test.data"
    t3.checkpoint_path = str(path)
    assert client.submit_one(t3).gather() == b"abcdXYZ"
    assert path.read_bytes() == b"abcdXYZ"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.data"]  # no temporary file left


def test_existing_checkpoint_is_loaded_and_its_inputs_never_run(client, tmp_path):
    log = tmp_path / "runs.log"
    path = tmp_path / "result.txt"
    path.write_bytes(b"[from the checkpoint]")
    task = tasks.merge((counted(log), tasks.const("!")))
    task.checkpoint_path = str(path)
    assert client.submit_one(task).gather() == b"[from the checkpoint]"
    assert not log.exists(), "an input of a loaded checkpoint ran"
    # an input that fails would fail the task: with its checkpoint present, it never runs
    failing = tasks.merge((tasks.run("/bin/false"),))
    failing.checkpoint_path = str(path)
    assert client.submit_one(failing).gather() == b"[from the checkpoint]"


def test_an_input_needed_elsewhere_still_runs(client, tmp_path):
    log = tmp_path / "runs.log"
    shared = counted(log)
    loaded = tasks.merge((shared, tasks.const("?")))
    path = tmp_path / "loaded"
    path.write_bytes(b"L")
    loaded.checkpoint_path = str(path)
    both = tasks.merge((loaded, shared))
    assert client.submit_one(both).gather() == b"Lran"
    assert log.read_text() == "x\n"


def test_checkpoint_load_as_hyperloom_tests_it(client, tmp_path):
    paths = [tmp_path / "f{}.txt".format(i) for i in range(1, 5)]
    for i, p in enumerate(paths):
        p.write_text("[{}]".format(i + 1))
    t1, t2, t3, t4 = (tasks.const("$t{}$".format(i)) for i in range(1, 5))
    t1.checkpoint_path, t2.checkpoint_path = str(paths[0]), str(paths[1])
    x1 = tasks.merge((t1, t2, t3))
    x2 = tasks.merge((t1, x1))
    x2.checkpoint_path = str(paths[2])
    x3 = tasks.merge((t4, t4))
    x3.checkpoint_path = str(paths[3])
    x4 = tasks.merge((x3, x1, x2, t1, t2, t3))
    x4.checkpoint_path = str(tmp_path / "nonexisting")
    assert client.submit_one(x4).gather() == b"[4][1][2]$t3$[3][1][2]$t3$"
    assert (tmp_path / "nonexisting").read_bytes() == b"[4][1][2]$t3$[3][1][2]$t3$"


def test_a_failing_task_writes_no_checkpoint(client, tmp_path):
    task = tasks.run(["/bin/sh", "-c", "printf partial; exit 3"])
    task.checkpoint_path = str(tmp_path / "never")
    with pytest.raises(TaskFailed):
        client.submit_one(task).gather()
    assert list(tmp_path.iterdir()) == []


def test_a_checkpoint_that_cannot_be_written_fails_the_task(client, tmp_path):
    task = tasks.const("x")
    path = tmp_path / "no-such-dir" / "file"
    task.checkpoint_path = str(path)
    with pytest.raises(TaskFailed, match="No such file or directory") as info:
        client.submit_one(task).gather()
    # The path the user gave, not the temporary file written beside it first.
    assert "cannot save to {}: No such file or directory".format(path) in str(info.value), str(info.value)
    assert "treadle-tmp" not in str(info.value)
    array = tasks.array_make((tasks.const("a"),))
    array.checkpoint_path = str(tmp_path / "array")
    with pytest.raises(TaskFailed, match="checkpoint holds a plain or file object"):
        client.submit_one(array).gather()
    assert list(tmp_path.iterdir()) == []


def test_a_relative_checkpoint_path_is_refused(client):
    task = tasks.const("x")
    task.checkpoint_path = "relative"
    with pytest.raises(LoomException, match="not absolute"):
        client.submit_one(task)


# ---------------------------------------------------------------------------------------------
# dslice/dget of an object without pieces fails clearly; a PyObj holding a sequence is cut

@tasks.py_task()
def unwrapped(piece):
    return repr(piece.unwrap())


@pytest.mark.parametrize("cut", [tasks.dslice, tasks.dget])
@pytest.mark.parametrize("make, kind", [(lambda: tasks.const("abc"), "plain"),
                                        (lambda: tasks.py_value(42), "pyobj"),
                                        (lambda: tasks.py_value("text is not cut"), "pyobj")])
def test_cutting_an_object_without_pieces_fails_clearly(client, cut, make, kind):
    result = tasks.array_make((tasks.size(cut(make())),))
    name = "dslice" if cut is tasks.dslice else "dget"
    with pytest.raises(TaskFailed, match=r"{} needs an array, an index or a PyObj holding a Python sequence.*"
                                         r"gave a {} object, which has no pieces to cut".format(name, kind)):
        client.submit_one(result).gather()
    assert client.submit_one(tasks.const("still serving")).gather() == b"still serving"


@pytest.mark.parametrize("cut", [tasks.dslice, tasks.dget])
def test_cutting_an_empty_array_still_gives_an_empty_array(client, cut):
    assert client.submit_one(tasks.array_make((tasks.size(cut(tasks.array_make(()))),))).gather() == []


def test_dget_of_a_pyobj_list_gives_each_item(client):
    out = client.submit_one(tasks.array_make((unwrapped(tasks.dget(tasks.py_value([10, "b", (3, 4)]))),))).gather()
    assert out == [b"10", b"'b'", b"(3, 4)"]


def test_dslice_of_a_pyobj_tuple_covers_it_in_order(client):
    pieces = client.submit_one(tasks.array_make((unwrapped(tasks.dslice(tasks.py_value(tuple(range(10))))),))).gather()
    assert len(pieces) == 8   # 2 workers x 2 cpus x 2 pieces per cpu
    joined = [x for p in pieces for x in eval(p.decode())]
    assert joined == list(range(10))
    assert all(eval(p.decode()) != () for p in pieces)


def test_a_computed_pyobj_sequence_is_cut_on_any_worker(client):
    @tasks.py_task(context=True)
    def squares(ctx, n):
        return ctx.wrap([i * i for i in range(int(n.read()))])

    @tasks.py_task()
    def where(item):
        import os
        return "{}@{}".format(item.unwrap(), os.getpid())

    out = client.submit_one(tasks.array_make((where(tasks.dget(squares(tasks.const("12")))),))).gather()
    assert [int(x.split(b"@")[0]) for x in out] == [i * i for i in range(12)]


def test_a_piece_that_cannot_be_cut_fails_with_the_users_error(client):
    import collections.abc

    class Flaky(collections.abc.Sequence):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            if i == 3:
                raise KeyError("item 3 is missing")
            return i

    with pytest.raises(TaskFailed, match="item 3 is missing"):
        client.submit_one(tasks.array_make((unwrapped(tasks.dget(tasks.py_value(Flaky()))),))).gather()
    assert client.submit_one(tasks.array_make((unwrapped(tasks.dget(tasks.py_value([1, 2]))),))).gather() == \
        [b"1", b"2"]
