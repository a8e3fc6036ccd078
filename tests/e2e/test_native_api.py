"""treadle's native API (docs/python-tasks.md, "The native API"), against real processes:
@treadle.task, submit, map, as_completed, gather, wait, futures, errors, the default client,
functions defined in a script's __main__, and many tiny tasks.

The module's cluster (conftest) has 2 workers with 2 cpus each.
"""

import os
import sys
import textwrap
import threading
import time
import traceback

import cloudpickle
import pytest

import treadle
from tests.conftest import run_script
from treadle.loom.client import LoomException, TaskFailed

# Functions of this module travel by value: the executors cannot import the test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def native(cluster):
    """The module's native client, also the default client of module-level calls."""
    c = treadle.Client(cluster, output=None)
    treadle.set_default_client(c)
    # Start the executors, so that timing tests do not measure their start.
    c.gather([c.submit(time.sleep, 0.05) for _ in range(8)])
    yield c
    treadle.set_default_client(None)
    c.close()


@treadle.task
def square(x):
    return x * x


@treadle.task(cpus=2, label="fit")
def fit(rows, alpha=0.1):
    return sum(rows) * alpha


@treadle.task(cpus=0)
def light_add(a, b):
    return a + b


def sleep_then(seconds, value):
    import time
    time.sleep(seconds)
    return value


def boom(x):
    raise ValueError("bad value {!r}".format(x))


# ---------------------------------------------------------------------------------------------
# Tasks and submit

def test_task_decorator_without_arguments(native):
    f = square(3)
    assert isinstance(f, treadle.Future)
    assert f.result() == 9
    assert square.local(4) == 16
    assert square.__name__ == "square"
    assert f.key.startswith("square-")


def test_task_decorator_with_arguments(native):
    f = fit([1, 2, 3], alpha=0.5)
    assert f.result() == 3.0
    with pytest.raises(treadle.TaskError) as info:
        fit(None).result()
    assert "(fit)" in str(info.value)  # the label names the task


def test_the_docs_example(native):
    total = treadle.submit(sum, [square(i) for i in range(10)])
    assert total.result() == 285
    assert list(treadle.map(square, range(5))) == [0, 1, 4, 9, 16]
    assert treadle.gather({"a": square(3), "b": [square(4), 5]}) == {"a": 9, "b": [16, 5]}


def test_submit_with_futures_nested_anywhere(native):
    def collect(d, lst, tup, scalar, k=None, **rest):
        return d, lst, tup, scalar, k, rest

    f = native.submit(collect, {"a": square(2), "b": [square(3), 1, {"deep": (square(4),)}]},
                      [square(5), "text"], (square(6), 7), square(7),
                      k={"z": (square(8),)}, extra=[square(9)])
    assert f.result() == ({"a": 4, "b": [9, 1, {"deep": (16,)}]}, [25, "text"], (36, 7), 49,
                          {"z": (64,)}, {"extra": [81]})


def test_future_used_twice_and_chains(native):
    a = square(3)
    b = native.submit(lambda x, y: x + y, a, a)
    c = square(b)
    d = native.submit(lambda *xs: list(xs), a, b, c)
    assert d.result() == [9, 18, 324]


def test_decorated_functions_inside_a_task_run_as_plain_functions(native):
    def outer(x):
        inner = square(x)  # not a Future here: square runs in the task itself
        return type(inner).__name__, inner

    assert native.submit(outer, 5).result() == ("int", 25)


def test_any_result_and_argument_types(native):
    class Point:
        def __init__(self, x, y):
            self.x, self.y = x, y

    def move(p, dx):
        return Point(p.x + dx, p.y), {"set": {1, 2}, "bytes": b"\x00\xff", "none": None}

    p, extra = native.submit(move, Point(1, 2), 10).result()
    assert (p.x, p.y) == (11, 2)
    assert extra == {"set": {1, 2}, "bytes": b"\x00\xff", "none": None}


def test_unpicklable_argument_fails_at_once(native):
    with pytest.raises(TypeError) as info:
        native.submit(len, threading.Lock())
    assert "lock" in str(info.value)


def test_future_of_another_client_is_refused(native, cluster):
    other = treadle.Client(cluster, output=None)
    try:
        f = other.submit(abs, -1)
        with pytest.raises(ValueError) as info:
            native.submit(abs, f)
        assert "another client" in str(info.value)
        assert f.result() == 1
    finally:
        other.close()


def test_not_callable_is_refused(native):
    with pytest.raises(TypeError):
        native.submit(42)


# ---------------------------------------------------------------------------------------------
# map, as_completed, gather, wait

def test_map_ordered(native):
    assert list(native.map(square.fn, range(20))) == [i * i for i in range(20)]
    assert list(treadle.map(pow, [2, 3, 4], [5, 2, 0])) == [32, 9, 1]
    # A small window: results still come in order, all of them.
    assert list(native.map(square, range(25), window=4)) == [i * i for i in range(25)]
    assert list(square.map(range(3))) == [0, 1, 4]


def test_map_ordered_waits_for_the_slow_first(native):
    start = time.monotonic()
    out = list(native.map(sleep_then, [0.6, 0.0, 0.2], ["slow", "fast", "mid"]))
    assert out == ["slow", "fast", "mid"]
    assert time.monotonic() - start >= 0.55


def test_map_unordered_yields_as_they_finish(native):
    out = list(native.map(sleep_then, [0.9, 0.0, 0.45], ["slow", "fast", "mid"], ordered=False))
    assert out == ["fast", "mid", "slow"]


def test_map_is_lazy_about_results_but_sends_all(native):
    it = native.map(square.fn, range(10))
    assert next(it) == 0
    assert list(it) == [i * i for i in range(1, 10)]


def test_as_completed_order(native):
    futures = [native.submit(sleep_then, s, v) for s, v in [(0.9, "a"), (0.0, "c"), (0.45, "b")]]
    order = [f.result() for f in treadle.as_completed(futures)]
    assert order == ["c", "b", "a"]


def test_as_completed_yields_failed_futures_too(native):
    futures = [native.submit(sleep_then, 0.3, "ok"), native.submit(boom, 1)]
    seen = list(treadle.as_completed(futures))
    assert len(seen) == 2 and seen[0] is futures[1]
    with pytest.raises(treadle.TaskError):
        seen[0].result()
    assert seen[1].result() == "ok"


def test_gather_keeps_structure(native):
    structure = {"a": square(3), "b": [square(4), 5, (square(5), "x")], "c": (square(1),), "d": "plain"}
    assert treadle.gather(structure) == {"a": 9, "b": [16, 5, (25, "x")], "c": (1,), "d": "plain"}
    assert treadle.gather([]) == []
    assert native.gather((square(2), square(3))) == (4, 9)


def test_wait(native):
    futures = [native.submit(sleep_then, 0.2, i) for i in range(4)]
    start = time.monotonic()
    treadle.wait(futures)
    assert time.monotonic() - start >= 0.15
    assert all(f.done() for f in futures)
    assert [f.result() for f in futures] == [0, 1, 2, 3]
    with pytest.raises(treadle.TaskError):
        treadle.wait([native.submit(boom, 2), square(2)])


def wait_for_file(path, value):
    import os
    import time
    while not os.path.exists(path):
        time.sleep(0.01)
    return value


def test_result_and_gather_with_a_timeout(native, tmp_path):
    # As concurrent.futures: TimeoutError once the time is up, and the task goes on.
    gate = str(tmp_path / "gate")
    held = native.submit(wait_for_file, gate, "late")
    quick = native.submit(abs, -4)
    failing = native.submit(boom, 5)
    start = time.monotonic()
    with pytest.raises(TimeoutError, match=r"1 of 1 task not done after 0.3 s"):
        held.result(timeout=0.3)
    assert time.monotonic() - start >= 0.3
    with pytest.raises(TimeoutError, match=r"of 2 tasks not done after 0 s"):
        native.gather([quick, held], timeout=0)
    assert native.gather({"q": quick}, timeout=30) == {"q": 4}
    with pytest.raises(ValueError, match="bad value 5"):   # a failure within the time: raised
        failing.result(timeout=30)
    with pytest.raises(ValueError, match="timeout must be a number"):
        held.result(timeout=-1)
    assert not held.done()
    open(gate, "w").close()
    assert held.result(timeout=30) == "late"


# ---------------------------------------------------------------------------------------------
# Futures: done, exception, release

def test_done(native):
    f = native.submit(sleep_then, 0.5, "v")
    assert not f.done()
    deadline = time.monotonic() + 10
    while not f.done():
        assert time.monotonic() < deadline, "done() never became true"
        time.sleep(0.02)
    assert f.result() == "v"
    assert f.done()


def test_done_of_a_task_that_ended_long_ago(native):
    # The first look at a future whose task has long finished must say so.
    f = native.submit(abs, -3)
    g = native.submit(boom, 3)
    native.wait([f])
    time.sleep(0.3)
    assert f.done()
    assert g.done()  # failed counts as done
    assert f.result() == 3


def test_exception(native):
    ok = square(6)
    bad = native.submit(boom, "x")
    assert ok.exception() is None
    error = bad.exception()
    assert isinstance(error, treadle.TaskError)
    assert "ValueError: bad value 'x'" in str(error)
    assert ok.result() == 36


def test_release_frees_the_result_on_the_workers(native):
    def released():
        return native.status()["states"]["released"]

    f = native.submit(lambda: "x" * 100000)
    assert len(f.result()) == 100000
    before = released()
    f.release()
    deadline = time.monotonic() + 10
    while released() <= before:
        assert time.monotonic() < deadline, "the result was not released on the server"
        time.sleep(0.02)
    assert f.result() == "x" * 100000  # the client keeps what it fetched

    g = native.submit(abs, -5)
    g.task_id  # sent
    native.wait([g])
    g.release()
    with pytest.raises(LoomException):
        g.result()  # released before it was fetched: gone


def test_releasing_a_call_not_sent_yet(native):
    # A call waits in the client until a flush; releasing it must not leave its result held
    # on the server once it is sent, and a call that uses it must still get it.
    before = native.status()["states"]["released"]
    first = native.submit(abs, -7)
    second = native.submit(lambda x: x + 1, first)
    first.release()
    assert second.result() == 8
    deadline = time.monotonic() + 10
    while native.status()["states"]["released"] < before + 1:
        assert time.monotonic() < deadline, "the released call's result is still held"
        time.sleep(0.02)
    with pytest.raises(LoomException):
        first.result()


def test_dropping_futures_releases_results(native):
    before = native.status()["states"]["released"]
    fs = [native.submit(abs, -i) for i in range(20)]
    native.wait(fs)
    del fs
    deadline = time.monotonic() + 10
    while native.status()["states"]["released"] < before + 20:
        assert time.monotonic() < deadline, "dropped futures were not released"
        time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# Errors

def test_task_error_carries_the_remote_traceback(native):
    def level_two(x):
        return 1 / x

    def level_one(x):
        return level_two(x - 1)

    f = native.submit(level_one, 1)
    with pytest.raises(treadle.TaskError) as info:
        f.result()
    error = info.value
    assert isinstance(error, TaskFailed)
    message = str(error)
    assert "(level_one)" in message
    assert "ZeroDivisionError: division by zero" in message
    shown = "".join(traceback.format_exception(error))  # the remote frames are its traceback
    assert "in level_one" in shown and "in level_two" in shown and "return 1 / x" in shown
    assert "Traceback (most recent call last)" in error.error and "in level_two" in error.error
    assert "treadle/executor.py" not in shown + error.error
    assert error.task_id == f.task_id


def test_dependents_of_a_failed_task_fail_the_others_go_on(native):
    bad = native.submit(boom, 7)
    child = square(bad)
    grandchild = native.submit(lambda xs: xs, [child, square(2)])
    unrelated = square(9)
    with pytest.raises(treadle.TaskError) as info:
        grandchild.result()
    assert "bad value 7" in str(info.value)
    with pytest.raises(treadle.TaskError):
        child.result()
    assert unrelated.result() == 81
    # gather of a structure with a failed future raises too
    with pytest.raises(treadle.TaskError):
        treadle.gather({"x": unrelated, "y": [child]})


def test_module_only_on_the_client(native, tmp_path, monkeypatch):
    # A function imported from a module the workers do not have: the error names the module.
    (tmp_path / "treadle_client_only_mod.py").write_text("def twice(x):\n    return 2 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import treadle_client_only_mod
    try:
        assert treadle_client_only_mod.twice(2) == 4
        with pytest.raises(treadle.TaskError) as info:
            native.submit(treadle_client_only_mod.twice, 3).result()
        assert "No module named 'treadle_client_only_mod'" in str(info.value)
    finally:
        sys.modules.pop("treadle_client_only_mod", None)


def test_missing_module_in_a_task(native):
    def needs():
        import treadle_no_such_module_anywhere  # noqa: F401

    with pytest.raises(treadle.TaskError) as info:
        native.submit(needs).result()
    assert "ModuleNotFoundError: No module named 'treadle_no_such_module_anywhere'" in str(info.value)


# ---------------------------------------------------------------------------------------------
# Output

def test_default_printer_marks_lines_with_the_task(cluster, capsys):
    c = treadle.Client(cluster)  # output="print"

    def talk(n):
        for i in range(n):
            print("line", i)
        return n

    try:
        f = c.submit(talk, 3)
        assert f.result() == 3
        task_id = f.task_id
    finally:
        c.close()
    out, _ = capsys.readouterr()
    assert "".join("[task {} talk] line {}\n".format(task_id, i) for i in range(3)) in out


def test_output_callback(cluster):
    items = []
    c = treadle.Client(cluster, output=items.extend)

    def talk():
        import sys
        print("to stdout")
        print("to stderr", file=sys.stderr)
        return 0

    try:
        f = c.submit(talk)
        f.result()
        task_id = f.task_id
    finally:
        c.close()
    assert (task_id, "talk", "stdout", b"to stdout\n") in items
    assert (task_id, "talk", "stderr", b"to stderr\n") in items


# ---------------------------------------------------------------------------------------------
# Light tasks, many tasks

def test_light_tasks(native):
    assert light_add(1, 2).result() == 3
    # A tree of light additions over cpu tasks.
    level = [square(i) for i in range(16)]
    while len(level) > 1:
        level = [light_add(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    assert level[0].result() == sum(i * i for i in range(16))
    assert treadle.gather([light_add(i, i) for i in range(200)]) == [2 * i for i in range(200)]


def test_task_needing_more_cpus_than_any_worker(native):
    @treadle.task(cpus=64)
    def huge():
        return 1

    with pytest.raises(LoomException):
        huge().result()
    assert square(2).result() == 4


@pytest.mark.timeout(90)
def test_ten_thousand_tiny_tasks(native):
    start = time.monotonic()
    futures = [square(i) for i in range(10000)]
    assert treadle.gather(futures) == [i * i for i in range(10000)]
    assert time.monotonic() - start < 60


# ---------------------------------------------------------------------------------------------
# The default client

def test_default_client_uses_treadle_address(native, cluster, monkeypatch):
    monkeypatch.setenv("TREADLE_ADDRESS", "127.0.0.1:{}".format(cluster.port))
    treadle.set_default_client(None)
    try:
        c = treadle.default_client()
        assert c is not native
        assert c.address == ("127.0.0.1", cluster.port)
        assert treadle.default_client() is c
        assert treadle.submit(abs, -8).result() == 8
        assert square(5).result() == 25
        treadle.shutdown()  # closes the client; the cluster is not its to stop
        assert cluster.server.poll() is None
        assert all(w.poll() is None for w in cluster.workers)
    finally:
        treadle.shutdown()
        treadle.set_default_client(native)


def test_default_client_starts_a_local_cluster_and_shutdown_stops_it():
    code = textwrap.dedent("""
        import os, sys, time
        import psutil
        import treadle

        print("result", treadle.submit(lambda x: x + 1, 41).result())
        mine = psutil.Process().children(recursive=True)
        names = sorted(os.path.basename(p.cmdline()[0]) for p in mine if p.status() != psutil.STATUS_ZOMBIE)
        print("servers", names.count("treadle-server"))
        print("workers", names.count("treadle-worker"))
        print("executors", sum("treadle.executor" in " ".join(p.cmdline()) for p in mine))
        treadle.shutdown()
        deadline = time.monotonic() + 10
        def alive():
            out = []
            for p in mine:
                try:
                    if p.status() != psutil.STATUS_ZOMBIE:
                        out.append(" ".join(p.cmdline()))
                except psutil.NoSuchProcess:
                    pass
            return out
        while alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        print("left", alive())
    """)
    env = {k: v for k, v in os.environ.items() if k != "TREADLE_ADDRESS"}
    done = run_script(code, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    workers = os.cpu_count() or 1
    assert lines[0] == "treadle: started a local cluster with {} worker{} at 127.0.0.1:".format(
        workers, "s" if workers > 1 else "") + lines[0].rsplit(":", 1)[1]
    assert "result 42" in lines
    assert "servers 1" in lines
    assert "workers {}".format(workers) in lines
    assert any(line.startswith("executors ") and int(line.split()[1]) >= 1 for line in lines)
    assert lines[-1] == "left []", "treadle.shutdown() left processes behind: " + lines[-1]


def test_client_without_an_address(monkeypatch):
    monkeypatch.delenv("TREADLE_ADDRESS", raising=False)
    with pytest.raises(LoomException) as info:
        treadle.Client()
    assert "TREADLE_ADDRESS" in str(info.value)


# ---------------------------------------------------------------------------------------------
# Functions of a script's __main__ (as a notebook defines them)

def test_functions_lambdas_and_classes_of_main(cluster):
    code = textwrap.dedent("""
        import treadle
        from treadle.loom.client import Client, tasks

        OFFSET = 100

        def double(x):
            return 2 * x + OFFSET - 100

        class Adder:
            def __init__(self, n):
                self.n = n
            def __call__(self, x):
                return x + self.n

        class Box:
            def __init__(self, v):
                self.v = v

        @treadle.task
        def unbox(b):
            return b.v

        cube = lambda x: x ** 3

        def hello(a):
            return b"Hello " + a.read()

        @tasks.py_task()
        def shout(a):
            return a.read().upper()

        client = treadle.Client(("127.0.0.1", PORT))
        treadle.set_default_client(client)
        print(client.submit(double, 4).result())
        print(client.submit(Adder(5), 1).result())
        print(client.submit(cube, 3).result())
        print(unbox(Box(7)).result())
        print(list(client.map(double, [1, 2])))
        boxed = client.submit(Box, 9).result()
        print(type(boxed).__name__, boxed.v)

        loom = Client("localhost", PORT)
        print(loom.submit_one(tasks.py_call(tasks.py_value(hello), (tasks.const("main"),))).gather())
        print(loom.submit_one(shout(tasks.const("loud"))).gather())
        print(loom.submit_one(tasks.py_call(tasks.py_value(lambda a: a.read()[::-1]), (tasks.const("abc"),))).gather())
        loom.close()
        client.close()
    """).replace("PORT", str(cluster.port))
    done = run_script(code, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["8", "6", "27", "7", "[2, 4]", "Box 9",
                                        "b'Hello main'", "b'LOUD'", "b'cba'"]
