"""Arguments arrive as the caller made them, as through a process pool: a list given twice is
one list in the task, and a list or dict that contains itself arrives so (no RecursionError),
with futures beside or inside them too, through every API (runtime/call_config.py,
task_runtime.load_config). Before, the arguments were rebuilt on both sides: shared lists became
copies and cycles recursed forever."""

import sys

import cloudpickle
import pytest

import treadle
from treadle.loom.client import Client as LoomClient
from treadle.loom.client import tasks as loom_tasks
from treadle.rain.client import Client as RainClient
from treadle.rain.client import Output, remote

cloudpickle.register_pickle_by_value(sys.modules[__name__])   # executors cannot import tests


def sharing(pair, x=None, *, cyclic=None, same=None):
    pair[0].append(99)   # a task that mutates one view sees it in the other
    return (pair[0] is pair[1], pair[1], x,
            cyclic is None or cyclic[-1] is cyclic,
            same is None or same[0] is same[1])


@pytest.fixture
def native(cluster):
    c = treadle.Client(cluster, output=None)
    yield c
    c.close()


def cyclic_list(*items):
    a = list(items)
    a.append(a)
    return a


def test_a_shared_list_beside_a_future_is_one_list(native):
    shared = [1, 2]
    f = native.submit(lambda: 5)
    assert native.submit(sharing, [shared, shared], f).result() == (True, [1, 2, 99], 5, True, True)
    assert shared == [1, 2]   # the caller's own list is untouched


def test_a_self_referencing_list_and_dict_arrive_as_they_are(native):
    f = native.submit(lambda: 7)
    d = {"f": f}
    d["me"] = d
    got = native.submit(lambda a, d: (a[-1] is a, a[0], d["me"] is d, d["f"]), cyclic_list(f), d).result()
    assert got == (True, 7, True, 7)
    assert native.submit(lambda a: a[-1] is a, cyclic_list(1)).result() is True


def test_a_future_given_twice_is_one_input_and_one_object(native):
    f = native.submit(lambda: [0])
    shared = [1]
    got = native.submit(sharing, [shared, shared], cyclic=cyclic_list(f), same=[f, f]).result()
    assert got == (True, [1, 99], None, True, True)


def test_futures_inside_sets_and_objects_are_inputs_too(native):
    f = native.submit(lambda: 3)
    box = type("Box", (), {})()
    box.value = f
    assert native.submit(lambda s, b: (s, b.value), frozenset([f]), box).result() == (frozenset([3]), 3)


def test_an_open_file_is_refused_at_the_call_as_pickle_refuses_it(native, tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("text")
    with open(path) as handle, pytest.raises(TypeError, match="_io.TextIOWrapper"):
        native.submit(lambda fh: fh, handle)
    assert native.submit(lambda: 1).result() == 1   # the client goes on


def test_loom_py_call_with_inputs_keeps_sharing_and_cycles(cluster):
    client = LoomClient(*cluster.address)
    try:
        shared = [1, 2]
        call = loom_tasks.py_call(
            lambda x, pair, data: repr((x[-1] is x, pair[0] is pair[1], data.read())).encode(),
            inputs=(loom_tasks.const(b"in"),), direct_args=(cyclic_list(1), [shared, shared]))
        assert client.submit_one(call).gather() == b"(True, True, b'in')"
    finally:
        client.close()


@remote(outputs=[Output(encode="pickle")])
def rain_check(ctx, data, x, pair):
    return (x[-1] is x, pair[0] is pair[1], data.get_bytes())


def test_rain_remote_with_a_data_input_keeps_sharing_and_cycles(cluster):
    from treadle.rain.client import blob
    client = RainClient(*cluster.address)
    try:
        shared = [1, 2]
        with client.new_session() as session:
            t = rain_check(blob(b"in"), cyclic_list(1), [shared, shared])
            t.output.keep()
            session.submit()
            assert t.output.fetch().load() == (True, True, b"in")
    finally:
        client.close()


def test_scoop_keeps_sharing_and_cycles(cluster, monkeypatch):
    monkeypatch.setenv("TREADLE_ADDRESS", "{}:{}".format(*cluster.address))
    from treadle.scoop import futures, pool
    try:
        shared = [1, 2]
        got = futures.submit(lambda x, pair: (x[-1] is x, pair[0] is pair[1]), cyclic_list(1), [shared, shared])
        assert got.result() == (True, True)
    finally:
        pool.close()
