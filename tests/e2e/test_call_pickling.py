"""Where a call's arguments and a task's result take the fast way (core/pickling.py: plain values
skip the by-value check; api.py: calls without futures skip the templating) and where they must
not: objects of __main__ hidden in numbers and containers, functions redefined or changed between
calls, arguments changed after a call, two clients. Run as a script's __main__ (as a notebook
defines things), against the module's real cluster."""

import json
import pickle
import textwrap

import pytest

from tests.conftest import run_script
from treadle.core.pickling import dumps, is_plain
from treadle.runtime import pipe


def run_main(cluster, body):
    code = "import treadle\nclient = treadle.Client(('127.0.0.1', PORT), output=None)\n" \
           "treadle.set_default_client(client)\n" + textwrap.dedent(body) + "\nclient.close()\n"
    done = run_script(code.replace("PORT", str(cluster.port)), timeout=90)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_objects_of_main_inside_plain_looking_values_travel_by_value(cluster):
    # An int subclass, an object inside a short tuple, one in a long list: none of them is plain.
    out = run_main(cluster, """
        import enum

        class Level(enum.IntEnum):
            LOW = 1
            HIGH = 2

        class Box:
            def __init__(self, v):
                self.v = v

        def kind(x):
            return type(x).__name__, int(x)

        def opened(pair):
            return pair[1].v

        def last(items):
            return items[-1].v

        def boxed(v):
            return Box(v), Level.HIGH

        print(client.submit(kind, Level.HIGH).result())
        print(client.submit(opened, (1, Box(5))).result())
        print(client.submit(last, list(range(20)) + [Box(7)]).result())
        box, level = client.submit(boxed, 3).result()
        print(type(box).__name__, box.v, repr(level))
        print(client.submit(len, "__main__ in a string is only a string").result())
    """)
    assert out == ["('Level', 2)", "5", "7", "Box 3 <Level.HIGH: 2>", "37"]


def test_a_function_redefined_under_the_same_name_runs_its_new_body(cluster):
    out = run_main(cluster, """
        def step(x):
            return x + 1
        first = client.gather([client.submit(step, i) for i in range(3)])

        def step(x):
            return x * 10
        second = client.gather([client.submit(step, i) for i in range(3)])
        print(first, second)
    """)
    assert out == ["[1, 2, 3] [0, 10, 20]"]


def test_arguments_are_taken_when_called_not_when_sent(cluster):
    # Calls are sent a few ms later, in a batch: what they were given is pickled at once.
    out = run_main(cluster, """
        items = [1]
        options = {"scale": 2}
        a = client.submit(sum, items)
        b = client.submit(lambda o: o["scale"], options)
        items.append(10)
        options["scale"] = 3
        c = client.submit(sum, items)
        d = client.submit(lambda o: o["scale"], options)
        print(client.gather([a, b, c, d]))
    """)
    assert out == ["[1, 2, 11, 3]"]


def test_a_new_function_object_after_a_closure_or_default_changed(cluster):
    # The same function object is pickled once per client (its later changes are not seen:
    # docs/python-tasks.md); a new one made with other closure values or defaults is.
    out = run_main(cluster, """
        def scaler(k):
            def scale(x, offset=0):
                return k * x + offset
            return scale

        double, triple = scaler(2), scaler(3)
        print(client.gather([client.submit(double, 5), client.submit(triple, 5)]))

        def shifted(x, offset=[1]):
            return x + offset[0]
        before = client.submit(shifted, 1).result()

        def shifted(x, offset=[100]):
            return x + offset[0]
        print(before, client.submit(shifted, 1).result())
    """)
    assert out == ["[10, 15]", "2 101"]


def test_two_clients_send_the_same_function_each(cluster):
    out = run_main(cluster, """
        def tag(x):
            return "t%d" % x
        other = treadle.Client(("127.0.0.1", PORT), output=None)
        a = [client.submit(tag, i) for i in range(3)]
        b = [other.submit(tag, i) for i in range(3, 6)]
        print(client.gather(a), other.gather(b))
        client.release(a)   # the other client's copy of the function stays usable
        print(other.gather([other.submit(tag, 9)]))
        other.close()
    """)
    assert out == ["['t0', 't1', 't2'] ['t3', 't4', 't5']", "['t9']"]


@pytest.mark.parametrize("value", [0, -5, 2 ** 70, 1.5, 2j, True, None, "x", b"y", (), (1, "a", None), [1, [2, (3,)]],
                                   {"a": 1, "b": [2.0]}])
def test_plain_values(value):
    assert is_plain(value)
    assert pickle.loads(dumps(value)) == value


@pytest.mark.parametrize("value", [list(range(17)), {1: 2}, [[[[1]]]], (object(),), bytearray(b"x"), {"a": {1}}])
def test_values_that_take_the_checked_way(value):
    assert not is_plain(value)


def test_the_done_reply_header_is_the_same_json_either_way():
    for desc in ({"k": "pyobj", "b": 0, "size": 28}, {"k": "pyobj", "b": 0, "size": 64, "len": 3},
                 {"k": "plain", "b": 0}, {"k": "array", "items": [{"k": "plain", "b": 0}]}):
        fast = pipe.done_header(7, desc, 100, 200)
        assert pipe.decode_header(fast.encode()) == {"op": "done", "id": 7, "result": desc, "t": [100, 200]}


@pytest.mark.parametrize("header", [
    # as the worker writes a tiny task's request (engine/worker/executor_pool.cpp, run): matched directly
    b'{"op":"run","id":7,"inputs":[{"k":"pyobj","size":512,"key":3,"b":-1}],"input_ids":[3],"config":0,"batch":true}',
    b'{"op":"run","id":123456789012,"inputs":[{"k":"pyobj","size":0,"key":99,"b":-1}],"input_ids":[99],"config":0}',
    # any other shape: the JSON scanner
    b'{"op":"run","id":7,"inputs":[{"k":"pyobj","size":512,"key":3,"b":0}],"input_ids":[3],"config":1,"batch":true}',
    b'{"op":"run","id":7,"inputs":[{"k":"pyobj","size":512,"key":3,"b":-1},{"k":"plain","b":0}],"input_ids":[3,4],"config":1}',
    b'{"op":"run","id":7,"inputs":[{"k":"pyobj","size":512,"key":null,"b":0}],"input_ids":[3],"config":1}',
    b'{"op":"hello","server":"127.0.0.1:9","secret":0}'])
def test_a_request_header_decodes_as_json_does(header):
    framed = bytearray(b"~~" + header + b"~~")
    decoded = pipe.decode_header(framed, 2, 2 + len(header))
    assert decoded == json.loads(header) and list(decoded) == list(json.loads(header))
    assert pipe.decode_header(header) == json.loads(header)


@pytest.mark.parametrize("blob", [b"", b"\x80\x05K\x19.", b"x" * 5000, b"y" * (1 << 20)])
def test_a_tiny_reply_in_one_piece_is_the_message_its_header_makes(blob):
    # The executor writes a tiny task's reply in one piece; the worker reads it as it reads the
    # message done_header and message_parts make (a large blob stays a part of its own).
    t = (12345678901, 1733550000000000, 1733550000000123)
    assert pipe.pyobj_done_message(7, blob, 33, *t[1:]) == pipe.message_parts(pipe.pyobj_done_header(7, 0, 33, *t[1:]), [blob])
    assert pipe.pyobj_done_message(t[0], blob, 33, *t[1:]) == pipe.message_parts(
        pipe.done_header(t[0], {"k": "pyobj", "b": 0, "size": 33}, *t[1:]), [blob])
    assert pipe.plain_done_message(t[0], blob, *t[1:]) == pipe.message_parts(
        pipe.done_header(t[0], {"k": "plain", "b": 0}, *t[1:]), [blob])
    # a tuple's or list's (the result of a task that returns several values)
    assert pipe.sequence_done_message(t[0], blob, 64, 4, *t[1:]) == pipe.message_parts(
        pipe.done_header(t[0], {"k": "pyobj", "b": 0, "size": 64, "len": 4}, *t[1:]), [blob])


@pytest.mark.parametrize("raw", [b"", b"{", b'{"op":"run"} x', b"[1]]", b"\xff"])
def test_a_bad_header_is_a_clear_error(raw):
    with pytest.raises(ValueError):
        pipe.decode_header(raw)


def test_an_argument_that_cannot_be_pickled_is_named(cluster):
    # A generator (and a lock) cannot travel: the error says which argument of which call.
    out = run_main(cluster, """
        import threading

        def squares(n):
            for i in range(n):
                yield i * i

        for call in (lambda: treadle.submit(sum, squares(5)),
                     lambda: treadle.submit(max, 1, key=threading.Lock())):
            try:
                call()
            except TypeError as error:
                print(type(error).__name__, error)
        print(treadle.submit(sum, list(squares(5))).result())  # the client goes on
    """)
    assert out == [
        "TypeError positional argument 1 of sum() cannot be sent to a worker (a generator could not be "
        "pickled: cannot pickle 'generator' object)",
        "TypeError keyword argument 'key' of max() cannot be sent to a worker (a lock could not be "
        "pickled: cannot pickle '_thread.lock' object)",
        "30"], out


def test_a_function_that_cannot_be_pickled_fails_its_call_and_loses_no_other(cluster):
    # A closure over a lock cannot travel. Its call raises, and the calls made before it,
    # still waiting in the same unsent batch, run as if it had never been made.
    out = run_main(cluster, """
        import threading

        lock = threading.Lock()

        def locked(x):
            with lock:
                return x

        before = [treadle.submit(abs, -i) for i in range(3)]
        try:
            treadle.submit(locked, 1)
        except TypeError as error:
            print(type(error).__name__, error)
        after = treadle.submit(abs, -7)
        print(treadle.gather(before), after.result())
        try:
            treadle.submit(locked, 2)   # again: still its own call's error
        except TypeError as error:
            print(type(error).__name__, error)
    """)
    assert out == ["TypeError cannot pickle '_thread.lock' object", "[0, 1, 2] 7",
                   "TypeError cannot pickle '_thread.lock' object"], out
