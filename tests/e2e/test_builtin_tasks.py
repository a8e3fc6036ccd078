"""Every built-in task type, run by real workers, with results fetched by the client."""

import os
import struct
import time

import pytest

from tests.conftest import ran_at_once
from treadle.loom.client import Task, TaskFailed, tasks


def u64(n):
    return struct.pack("<Q", n)


def gather(client, task):
    return client.submit_one(task).gather()


@pytest.fixture
def lines_file(tmp_path):
    path = tmp_path / "lines.txt"
    path.write_bytes(b"line1\nline2\nline3")
    return path


# -- loom/data ----------------------------------------------------------------------------------

def test_const(client):
    assert gather(client, tasks.const("Hello")) == b"Hello"
    assert gather(client, tasks.const(b"\x00\xffbinary\x00")) == b"\x00\xffbinary\x00"
    assert gather(client, tasks.const("")) == b""
    assert gather(client, tasks.const("žluťoučký")) == "žluťoučký".encode()


def test_large_const(client):
    data = os.urandom(3 << 20)
    assert gather(client, tasks.const(data)) == data


def test_merge(client):
    parts = [tasks.const(s) for s in ("a", "bb", "", "ccc")]
    assert gather(client, tasks.merge(parts)) == b"abbccc"
    assert gather(client, tasks.merge(parts, ", ")) == b"a, bb, , ccc"
    assert gather(client, tasks.merge(parts, b"\x00")) == b"a\x00bb\x00\x00ccc"
    assert gather(client, tasks.merge(())) == b""
    assert gather(client, tasks.merge((tasks.const("only"),), "-")) == b"only"


def test_merge_uses_a_future_twice(client):
    a = client.submit_one(tasks.const("ab"))
    a.wait()
    assert gather(client, tasks.merge((a, a, a), "|")) == b"ab|ab|ab"
    a.release()


@pytest.mark.timeout(10)
def test_merge_uses_an_input_of_the_plan_twice(client):
    a = tasks.const("ab")
    assert gather(client, tasks.merge((a, a, a), "|")) == b"ab|ab|ab"
    # also when the input is computed elsewhere and fetched from a peer
    parts = [tasks.const(str(i)) for i in range(50)]
    left = tasks.merge(parts)
    assert gather(client, tasks.merge((left, left, tasks.merge(parts[::-1]), left), ",")) == b",".join(
        [b"".join(str(i).encode() for i in range(50))] * 2 + [b"".join(str(i).encode() for i in range(49, -1, -1))]
        + [b"".join(str(i).encode() for i in range(50))])


def test_open(client, lines_file):
    assert gather(client, tasks.open(str(lines_file))) == b"line1\nline2\nline3"
    assert gather(client, tasks.open(lines_file)) == b"line1\nline2\nline3"  # os.PathLike


def test_open_then_merge(client, lines_file):
    t = tasks.merge((tasks.open(str(lines_file)), tasks.const("tail")), "--")
    assert gather(client, t) == b"line1\nline2\nline3--tail"


def test_save(client, tmp_path):
    target = tmp_path / "saved.txt"
    result = gather(client, tasks.save(tasks.const("saved content"), str(target)))
    assert target.read_bytes() == b"saved content"
    assert result == b"saved content"


def test_save_of_an_open_file(client, lines_file, tmp_path):
    target = tmp_path / "copy.txt"
    gather(client, tasks.save(tasks.open(str(lines_file)), str(target)))
    assert target.read_bytes() == lines_file.read_bytes()


def test_split(client, lines_file):
    assert gather(client, tasks.split(tasks.open(str(lines_file)))) == [b"line1\n", b"line2\n", b"line3"]
    assert gather(client, tasks.split(tasks.const("a,b,,c"), ",")) == [b"a,", b"b,", b",", b"c"]
    assert gather(client, tasks.split(tasks.const("a\nb\n"))) == [b"a\n", b"b\n"]
    assert gather(client, tasks.split(tasks.const(""))) == []


def test_get(client, lines_file):
    index = tasks.split(tasks.open(str(lines_file)))
    assert gather(client, tasks.get(index, 0)) == b"line1\n"
    assert gather(client, tasks.get(index, 2)) == b"line3"
    array = tasks.array_make((tasks.const("x"), tasks.const("y")))
    assert gather(client, tasks.get(array, 1)) == b"y"


def test_get_out_of_range_fails(client):
    with pytest.raises(TaskFailed) as info:
        gather(client, tasks.get(tasks.split(tasks.const("a\nb")), 5))
    assert "out of range" in str(info.value)
    with pytest.raises(TaskFailed, match="array or an index"):
        gather(client, tasks.get(tasks.const("abc"), 0))


def test_slice(client, lines_file):
    index = tasks.split(tasks.open(str(lines_file)))
    assert gather(client, tasks.slice(index, 1, 3)) == b"line2\nline3"  # the lines' bytes, as HyperLoom
    assert gather(client, tasks.slice(index, 1, 100)) == b"line2\nline3"  # clamped
    assert gather(client, tasks.slice(index, 2, 1)) == b""
    array = tasks.array_make([tasks.const(str(i)) for i in range(6)])
    assert gather(client, tasks.slice(array, 2, 5)) == [b"2", b"3", b"4"]
    # a slice of a slice
    assert gather(client, tasks.get(tasks.slice(tasks.slice(array, 1, 6), 2, 4), 1)) == b"4"


def test_size(client, lines_file):
    assert gather(client, tasks.size(tasks.const("abc"))) == u64(3)
    assert gather(client, tasks.size(tasks.const(""))) == u64(0)
    assert gather(client, tasks.size(tasks.open(str(lines_file)))) == u64(17)
    assert gather(client, tasks.size(tasks.const(b"x" * 100000))) == u64(100000)


def test_length(client, lines_file):
    assert gather(client, tasks.length(tasks.split(tasks.open(str(lines_file))))) == u64(3)
    array = tasks.array_make([tasks.const(str(i)) for i in range(7)])
    assert gather(client, tasks.length(array)) == u64(7)
    assert gather(client, tasks.length(tasks.const("plain"))) == u64(0)
    assert struct.unpack("<Q", gather(client, tasks.length(tasks.split(tasks.const("a\n" * 300)))))[0] == 300


def test_array_make(client, lines_file):
    array = tasks.array_make((tasks.const("x"), tasks.const("yy")))
    assert gather(client, array) == [b"x", b"yy"]
    nested = tasks.array_make((tasks.const("x"), array, tasks.split(tasks.open(str(lines_file)))))
    assert gather(client, nested) == [b"x", [b"x", b"yy"], [b"line1\n", b"line2\n", b"line3"]]
    assert gather(client, tasks.array_make(())) == []


def test_fetch_of_several_array_results(client):
    a = tasks.array_make([tasks.const(str(i)) for i in range(3)])
    i = tasks.split(tasks.const("p;q;r"), ";")
    fa, fi, fc = client.submit((a, i, tasks.const("plain")))
    assert client.fetch((fa, fi, fc)) == [[b"0", b"1", b"2"], [b"p;", b"q;", b"r"], b"plain"]
    assert client.gather((fi, fa, fc)) == [[b"p;", b"q;", b"r"], [b"0", b"1", b"2"], b"plain"]


def test_sleep(client):
    start = time.monotonic()
    assert gather(client, tasks.sleep(0.4, tasks.const("after"))) == b"after"
    assert time.monotonic() - start >= 0.4
    assert gather(client, tasks.sleep(0)) == b""


def test_sleeps_run_in_parallel(client):
    # light tasks do not hold cpus: ten 0.5 s sleeps on 2 cpus all sleep at once
    futures = client.submit([tasks.sleep(0.5, tasks.const(str(i))) for i in range(10)])
    assert client.gather(futures) == [str(i).encode() for i in range(10)]
    assert ran_at_once(client, futures)


def test_builtins_via_task_objects(client):
    # the symbols are those of HyperLoom
    t = Task("loom/data/const", (), b"via Task")
    u = Task("loom/data/const", (), "via Task")
    assert gather(client, Task("loom/data/merge", (t, u), b"+")) == b"via Task+via Task"
    assert gather(client, Task("loom/base/size", (t,))) == u64(8)
