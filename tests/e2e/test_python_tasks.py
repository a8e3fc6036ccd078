"""HyperLoom's Python tasks through ``treadle.loom.client``, against real processes.

Every code example of the user guide's sections "Python functions in plans", "Task
redirection", "Task context", "Direct arguments", "Python objects" and "Dynamic slice & get"
runs with only the import line changed (``loom.client`` -> ``treadle.loom.client``), and gives
the documented result. Placeholders of the guide are filled in: "/some/program" is a real
program, ``tasks.XXX`` a Python task. The guide's ``tasks.cont("world")`` is its typo for
``tasks.const``.

The module's cluster has 2 workers with 1 cpu each, so a dslice makes 2 x 1 x 2 = 4 pieces.
"""

import struct
import sys
import textwrap
import traceback

import cloudpickle
import pytest

from tests.conftest import run_script, start_cluster
from treadle.loom.client import Client, LoomException, Task, TaskFailed, tasks

# Functions of this module travel by value: the executors cannot import the test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

WORKERS, CPUS = 2, 1
PIECES = WORKERS * CPUS * 2  # the scheduler's pieces per cpu (engine/server/dynamic.cpp)


@pytest.fixture(scope="module")
def cluster():
    with start_cluster(workers=WORKERS, cpus=CPUS) as c:
        yield c


@pytest.fixture
def collecting_client(cluster, make_client):
    """A client whose task output is collected into ``client.items``."""
    items = []
    c = make_client(cluster.address, output=items.extend)
    c.items = items
    return c


def u64(data):
    return struct.unpack("<Q", data)[0]


# ---------------------------------------------------------------------------------------------
# Python functions in plans

def test_py_task_hello(client):
    @tasks.py_task()
    def hello(a):
        return b"Hello " + a.read()

    task1 = tasks.const("world")
    task2 = hello(task1)

    result = client.submit_one(task2)
    assert result.gather() == b"Hello world"
    assert task2.label == "hello"  # the function's name


def test_py_call_hello(client):
    def hello(a):
        return b"Hello " + a.read()

    task1 = tasks.const("world")
    task2 = tasks.py_call(tasks.py_value(hello), (task1,))
    task2.label = "hello"

    assert client.submit_one(task2).gather() == b"Hello world"


def test_hello_as_a_script_defined_in_main(cluster):
    # The guide's examples as a user runs them: functions defined at the top of a script.
    code = textwrap.dedent("""
        from treadle.loom.client import Client, tasks

        @tasks.py_task()
        def hello(a):
            return b"Hello " + a.read()

        def hello2(a):
            return b"Hello " + a.read()

        client = Client("localhost", PORT)
        task1 = tasks.const("world")
        print(client.submit_one(hello(task1)).gather())
        task2 = tasks.py_call(tasks.py_value(hello2), (task1,))
        task2.label = "hello"
        print(client.submit_one(task2).gather())
    """).replace("PORT", str(cluster.port))
    done = run_script(code, timeout=40)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "b'Hello world'\nb'Hello world'\n"


def test_str_return_is_a_plain_object(client):
    @tasks.py_task()
    def text(a):
        return "länge " + str(a.size())

    assert client.submit_one(text(tasks.const("abc"))).gather() == "länge 3".encode()


def test_input_wrappers_read_size_length(client):
    @tasks.py_task()
    def describe(plain, array, index, pyobj):
        parts = [
            plain.read(), plain.size(), plain.length(),
            array.read(), array.size(), array.length(), [x.read() for x in array],
            index.read(), index.length(), [x.read() for x in index],
            pyobj.read(), pyobj.size() > 0, pyobj.length(),
        ]
        return repr(parts)

    plain = tasks.const("hello")
    array = tasks.array_make((tasks.const("ab"), tasks.const("cde")))
    index = tasks.split(tasks.const("x\ny\nz"))
    pyobj = tasks.py_value((1, 2, 3))
    out = client.submit_one(describe(plain, array, index, pyobj)).gather()
    assert eval(out) == [
        b"hello", 5, 0,
        b"", 5, 2, [b"ab", b"cde"],   # an array is no D-object: read() gives b""
        b"", 3, [b"x\n", b"y\n", b"z"],
        b"", True, 0,                 # nor is a PyObj
    ]


def test_list_return_is_an_array(client):
    @tasks.py_task()
    def parts(a):
        return [a.read()[:2], a.read()[2:]]

    f = client.submit_one(parts(tasks.const("abcd")))
    assert f.gather() == [b"ab", b"cd"]
    g = client.submit_one(tasks.get(parts(tasks.const("wxyz")), 1))
    assert g.gather() == b"yz"


def test_other_return_value_fails_the_task(client):
    @tasks.py_task()
    def returns_int():
        return 42

    with pytest.raises(TaskFailed) as info:
        client.submit_one(returns_int()).gather()
    assert "must return bytes, str, a list, a Task or ctx.wrap(obj), not int" in str(info.value)
    assert info.value.label == "returns_int"


def test_exception_fails_the_task_with_its_traceback(client):
    @tasks.py_task(label="failing step")
    def broken(a):
        raise ValueError("cannot handle " + a.read().decode())

    f = client.submit_one(broken(tasks.const("this input")))
    with pytest.raises(TaskFailed) as info:
        f.gather()
    message = str(info.value)
    assert "(failing step)" in message
    assert "ValueError: cannot handle this input" in message
    assert isinstance(info.value, ValueError)  # the task's own exception, and a TaskFailed
    shown = "".join(traceback.format_exception(info.value))
    assert "in broken" in shown and 'raise ValueError("cannot handle " + a.read().decode())' in shown
    # the text keeps the whole remote traceback, without the executor's own frames
    assert "Traceback (most recent call last)" in info.value.error and "in broken" in info.value.error
    assert "treadle/executor.py" not in info.value.error + shown
    assert info.value.task_type == tasks.PY_CALL


def test_label_parameter_labels_the_task(collecting_client):
    @tasks.py_task(label="my label")
    def speak():
        print("spoken")
        return b""

    f = collecting_client.submit_one(speak())
    f.gather()
    collecting_client.close()
    assert (f.task_id, "my label", "stdout", b"spoken\n") in collecting_client.items


def test_py_task_of_a_callable_object(client):
    class Greeter:
        def __init__(self, greeting):
            self.greeting = greeting

        def __call__(self, a):
            return self.greeting + a.read()

    greet = tasks.py_task()(Greeter(b"Hi "))
    t = greet(tasks.const("there"))
    assert t.label == "Greeter"
    assert client.submit_one(t).gather() == b"Hi there"


def test_ten_megabytes_printed_by_a_py_task(collecting_client):
    @tasks.py_task()
    def chatty(a):
        line = a.read().decode() * 1023
        for _ in range(10 * 1024):
            print(line)
        return b"done"

    f = collecting_client.submit_one(chatty(tasks.const("z")))
    task_id = f.task_id
    assert f.gather() == b"done"
    collecting_client.close()  # takes what is still on its way
    data = b"".join(d for t, _, s, d in collecting_client.items if t == task_id and s == "stdout")
    assert len(data) == 10 * 1024 * 1024
    assert data == (b"z" * 1023 + b"\n") * (10 * 1024)


# ---------------------------------------------------------------------------------------------
# Task redirection

@tasks.py_task()
def my_run(a, b):
    if a.size() > b.size():
        data = a
    else:
        data = b
    return tasks.run("/usr/bin/tr a-z A-Z", stdin=data)


def test_redirection_my_run(client):
    small, big = tasks.const("small"), tasks.const("the bigger one")
    assert client.submit_one(my_run(small, big)).gather() == b"THE BIGGER ONE"
    assert client.submit_one(my_run(big, small)).gather() == b"THE BIGGER ONE"


def test_redirection_to_a_graph_of_new_tasks(client):
    @tasks.py_task()
    def plan(a):
        n = int(a.read())
        parts = [tasks.const("<{}>".format(i)) for i in range(n)]
        return tasks.merge(parts, ",")

    assert client.submit_one(plan(tasks.const("4"))).gather() == b"<0>,<1>,<2>,<3>"
    # The redirected result is an input like any other.
    consumer = tasks.merge((tasks.const("["), plan(tasks.const("2")), tasks.const("]")))
    assert client.submit_one(consumer).gather() == b"[<0>,<1>]"


def test_redirection_to_a_python_task(client):
    @tasks.py_task()
    def upper(a):
        return a.read().upper()

    @tasks.py_task()
    def choose(a):
        return upper(a)

    assert client.submit_one(choose(tasks.const("redirected"))).gather() == b"REDIRECTED"


def test_redirection_to_a_failing_program(client):
    @tasks.py_task()
    def run_it(a):
        return tasks.run(("/bin/sh", "-c", "echo 'no good input' >&2; exit 7"), stdin=a)

    with pytest.raises(TaskFailed) as info:
        client.submit_one(run_it(tasks.const("x"))).gather()
    message = str(info.value)
    assert "Program terminated with status 7" in message
    assert "no good input" in message


def test_redirection_to_a_failing_python_task(client):
    @tasks.py_task()
    def raises():
        raise RuntimeError("the redirected task broke")

    @tasks.py_task()
    def redirect():
        return raises()

    f = client.submit_one(tasks.merge((redirect(), tasks.const("!"))))
    with pytest.raises(TaskFailed) as info:
        f.gather()
    assert "RuntimeError: the redirected task broke" in str(info.value)
    assert "raises" in str(info.value)


def test_redirection_with_a_foreign_input_is_refused(client):
    # A returned task may use the task's own inputs and new tasks only.
    @tasks.py_task()
    def sneaky(a):
        other = tasks.const("x")
        other.inputs = (object(),)
        return other

    with pytest.raises(TaskFailed) as info:
        client.submit_one(sneaky(tasks.const("x"))).gather()
    assert "own inputs" in str(info.value)


# ---------------------------------------------------------------------------------------------
# Task context

def test_context_hello_logs_to_the_client(collecting_client):
    @tasks.py_task(context=True)
    def hello(ctx, a):
        ctx.log_info("Hello was called")
        return b"Hello " + a.read()

    f = collecting_client.submit_one(hello(tasks.const("world")))
    task_id = f.task_id
    assert f.gather() == b"Hello world"
    collecting_client.close()
    assert (task_id, "hello", "log:info", b"Hello was called") in collecting_client.items


def test_context_log_levels_and_task_id(collecting_client):
    @tasks.py_task(context=True)
    def levels(ctx):
        ctx.log_debug("d")
        ctx.log_info("i")
        ctx.log_warn("w")
        ctx.log_error("e")
        ctx.log_critical("c")
        return str(ctx.task_id)

    f = collecting_client.submit_one(levels())
    task_id = f.task_id
    assert f.gather() == str(task_id).encode()  # ctx.task_id is the future's task_id
    collecting_client.close()
    logs = [(s, d) for t, _, s, d in collecting_client.items if t == task_id]
    assert logs == [("log:debug", b"d"), ("log:info", b"i"), ("log:warn", b"w"),
                    ("log:error", b"e"), ("log:critical", b"c")]


def test_default_printer_marks_output_with_the_task(cluster, capsys):
    @tasks.py_task(context=True)
    def hello(ctx, a):
        print("printed by the task")
        print("a second line")
        ctx.log_info("Hello was called")
        return b"Hello " + a.read()

    c = Client(*cluster.address)  # output="print": the default
    try:
        f = c.submit_one(hello(tasks.const("world")))
        task_id = f.task_id
        assert f.gather() == b"Hello world"
    finally:
        c.close()
    out, err = capsys.readouterr()
    assert "[task {} hello] printed by the task\n[task {} hello] a second line\n".format(task_id, task_id) in out
    assert "[task {} hello] INFO: Hello was called\n".format(task_id) in err


# ---------------------------------------------------------------------------------------------
# Direct arguments

def test_direct_args_repeat(client):
    @tasks.py_task(n_direct_args=1)
    def repeat(n, a):
        return n * a.read()

    c = tasks.const("ABC")
    t1 = repeat(2, c)
    t2 = repeat(3, c)

    assert client.submit_one(t1).gather() == b"ABCABC"
    assert client.submit_one(t2).gather() == b"ABCABCABC"


def test_direct_args_via_py_call(client):
    def repeat(n, a):
        return n * a.read()

    c = tasks.const("ABC")
    t1 = tasks.py_call(tasks.py_value(repeat), (c,), direct_args=(2,))
    assert client.submit_one(t1).gather() == b"ABCABC"


def test_context_comes_before_direct_args(client):
    @tasks.py_task(context=True, n_direct_args=2)
    def f(ctx, sep, obj, a):
        assert isinstance(ctx.task_id, int)
        return sep.join([a.read().decode(), repr(obj)])

    out = client.submit_one(f("|", {"any": ("picklable", 1.5)}, tasks.const("data"))).gather()
    assert out == b"data|{'any': ('picklable', 1.5)}"


def test_direct_args_can_be_unpicklable_by_pickle(client):
    @tasks.py_task(n_direct_args=1)
    def apply(fn, a):
        return fn(a.read())

    assert client.submit_one(apply(lambda b: b[::-1], tasks.const("abc"))).gather() == b"cba"


# ---------------------------------------------------------------------------------------------
# Python objects

def test_py_value_unwrap(client):
    py_task = tasks.py_task
    my_dict = tasks.py_value({"A": "B"})

    @py_task()
    def f(a):
        d = a.unwrap()
        return "Value of 'A' is " + d["A"]

    t = f(my_dict)
    assert client.submit_one(t).gather() == b"Value of 'A' is B"


def test_returning_plain_pyobj_and_array(client):
    py_task = tasks.py_task

    @py_task()
    def example_1():
        return "Hello"

    @py_task(context=True)
    def example_2(ctx):
        return ctx.wrap("Hello")

    @py_task(context=True)
    def example_3(ctx):
        return [ctx.wrap({"A", (1, 2, 3)}), "Hello"]

    @py_task()
    def kinds(a):
        if a.kind == "array":
            return repr([(x.kind, x.unwrap() if x.kind == "pyobj" else x.read()) for x in a])
        return repr((a.kind, a.unwrap() if a.kind == "pyobj" else a.read()))

    assert client.submit_one(example_1()).gather() == b"Hello"          # a plain object
    assert client.submit_one(example_2()).gather() == "Hello"           # a PyObj: the object
    assert client.submit_one(example_3()).gather() == [{"A", (1, 2, 3)}, b"Hello"]
    # As seen by a consumer:
    assert eval(client.submit_one(kinds(example_1())).gather()) == ("plain", b"Hello")
    assert eval(client.submit_one(kinds(example_2())).gather()) == ("pyobj", "Hello")
    assert eval(client.submit_one(kinds(example_3())).gather()) == [("pyobj", {"A", (1, 2, 3)}), ("plain", b"Hello")]


def test_wrap_of_an_input_returns_it_unwrapped(client):
    @tasks.py_task(context=True)
    def passthrough(ctx, a, b):
        return [ctx.wrap(a), ctx.wrap(b)]

    out = client.submit_one(passthrough(tasks.const("plain"), tasks.py_value([1, 2]))).gather()
    assert out == [b"plain", [1, 2]]


def test_modify_arg_example_fails_cleanly(client):
    # The guide's "THIS EXAMPLE CONTAINS ERROR": it modifies an unwrapped PyObj (undefined
    # behaviour) and returns None, which is no result: the task fails and says why.
    py_task = tasks.py_task

    @py_task()
    def modify_arg(a):
        my_obj = a.unwrap()
        my_obj[0] = 321  # HERE IS ERROR, we are modyfing unwrapped object

    value = tasks.py_value([1, 2, 3, 4])
    with pytest.raises(TaskFailed) as info:
        client.submit_one(modify_arg(value)).gather()
    assert "not NoneType" in str(info.value)


def test_unwrap_of_a_plain_object_says_so(client):
    @tasks.py_task()
    def f(a):
        return a.unwrap()

    with pytest.raises(TaskFailed) as info:
        client.submit_one(f(tasks.const("x"))).gather()
    assert "unwrap() needs a PyObj input" in str(info.value)


def test_missing_module_is_named(client):
    @tasks.py_task()
    def needs_module():
        import treadle_test_module_nobody_has  # noqa: F401
        return b""

    with pytest.raises(TaskFailed) as info:
        client.submit_one(needs_module()).gather()
    assert "ModuleNotFoundError: No module named 'treadle_test_module_nobody_has'" in str(info.value)


# ---------------------------------------------------------------------------------------------
# Dynamic slice & get

@tasks.py_task()
def show(*inputs):
    """A stand-in for the guide's tasks.XXX: describes its inputs."""
    out = []
    for a in inputs:
        if a.kind in ("array", "index"):
            out.append("[" + ",".join(x.read().decode().strip() for x in a) + "]")
        else:
            out.append(a.read().decode())
    return " ".join(out)


def numbers(n):
    return tasks.array_make([tasks.const(str(i)) for i in range(n)])


def hand_written_slices(x, n, k, make):
    """The guide's expansion of dslice with the same k pieces (as even as they come)."""
    return tasks.array_make([make(tasks.slice(x, n * i // k, n * (i + 1) // k)) for i in range(k)])


def test_dslice_equals_the_hand_written_expansion(client):
    n = 10
    x = numbers(n)
    t1 = tasks.dslice(x)
    t2 = show(tasks.const("before"), t1, tasks.const("after"))
    result = tasks.array_make((t2,))
    dynamic = client.submit_one(result).gather()

    expected = client.submit_one(hand_written_slices(
        numbers(n), n, PIECES, lambda piece: show(tasks.const("before"), piece, tasks.const("after")))).gather()
    assert len(dynamic) == PIECES  # 2 workers x 1 cpu
    assert dynamic == expected
    # The pieces cover x in order: 0 < N1 < N2 ... < Nk = n.
    joined = ",".join(r.decode().split(" ")[1].strip("[]") for r in dynamic)
    assert joined == ",".join(str(i) for i in range(n))
    assert all(r.decode().split(" ")[1] != "[]" for r in dynamic)


def test_dslice_of_a_short_array_makes_one_piece_per_element(client):
    out = client.submit_one(tasks.array_make((show(tasks.dslice(numbers(3))),))).gather()
    assert out == [b"[0]", b"[1]", b"[2]"]


def test_dslice_of_an_index(client):
    text = "".join("line {}\n".format(i) for i in range(20))

    @tasks.py_task()
    def count_lines(piece):
        return str(piece.read().count(b"\n"))  # a piece of an index is its lines' bytes

    out = client.submit_one(tasks.array_make((count_lines(tasks.dslice(tasks.split(tasks.const(text)))),))).gather()
    assert len(out) == PIECES
    assert sum(int(x) for x in out) == 20


def test_dslice_of_a_computed_array(client):
    @tasks.py_task(context=True)
    def make(ctx):
        return [ctx.wrap(i) for i in range(9)]

    @tasks.py_task()
    def total(piece):
        return str(sum(x.unwrap() for x in piece))

    out = client.submit_one(tasks.array_make((total(tasks.dslice(make())),))).gather()
    assert len(out) == PIECES
    assert sum(int(x) for x in out) == sum(range(9))


def test_dget_equals_the_hand_written_expansion(client):
    n = 6
    t1 = tasks.dget(numbers(n))
    t2 = show(tasks.const("item"), t1)
    result = tasks.array_make((t2,))
    dynamic = client.submit_one(result).gather()

    x = numbers(n)
    expected = client.submit_one(tasks.array_make(
        [show(tasks.const("item"), tasks.get(x, i)) for i in range(n)])).gather()
    assert dynamic == expected == [("item " + str(i)).encode() for i in range(n)]


def test_dget_of_an_index(client):
    out = client.submit_one(tasks.array_make((show(tasks.dget(tasks.split(tasks.const("a\nb\nc")))),))).gather()
    assert out == [b"a\n", b"b\n", b"c"]  # pieces keep their delimiter


def test_dget_and_dslice_of_an_empty_array(client):
    empty = tasks.array_make(())
    assert client.submit_one(tasks.array_make((show(tasks.dget(empty)),))).gather() == []
    assert client.submit_one(tasks.array_make((show(tasks.dslice(tasks.array_make(()))),))).gather() == []


def test_future_on_the_expanded_consumer_has_all_pieces(client):
    t1 = tasks.dslice(numbers(8))
    t2 = show(t1)
    result = tasks.array_make((tasks.const("first"), t2, tasks.const("last")))
    f2, fr = client.submit((t2, result))
    pieces = f2.gather()
    assert len(pieces) == PIECES
    assert b",".join(p.strip(b"[]") for p in pieces) == b"0,1,2,3,4,5,6,7"
    assert fr.gather() == [b"first"] + pieces + [b"last"]


def test_dslice_with_a_failing_consumer(client):
    @tasks.py_task()
    def picky(piece):
        if piece.length() and piece[0].read() == b"0":
            raise ValueError("no zero please")
        return b"ok"

    with pytest.raises(TaskFailed) as info:
        client.submit_one(tasks.array_make((picky(tasks.dslice(numbers(8))),))).gather()
    assert "no zero please" in str(info.value)


# ---------------------------------------------------------------------------------------------
# Own tasks on a plain worker

def test_own_task_type_refused_without_a_worker_offering_it(client):
    task = Task()
    task.task_type = "my/count"
    task.inputs = (tasks.const("banana"),)
    task.config = "a"
    with pytest.raises(LoomException) as info:
        client.submit_one(task).gather()
    assert "my/count" in str(info.value)
    assert u64(client.submit_one(tasks.size(tasks.const("still works"))).gather()) == 11
