"""``treadle.map`` is eager by default (its first ``next()`` submits every call, as
``concurrent.futures``), and with ``buffersize=N`` (Python 3.14's) reads its inputs lazily, at
most N calls submitted ahead: it goes over an endless iterator (python/treadle/buffered_map.py).
Bad ``window``/``buffersize`` values raise at the call, naming the argument."""

import itertools
import sys

import cloudpickle
import pytest

import treadle

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def double(x):
    return 2 * x


def fails_at(x, bad):
    if x == bad:
        raise ValueError("bad item {}".format(x))
    return x


@pytest.fixture
def native(cluster):
    c = treadle.Client(cluster, output=None)
    yield c
    c.close()


def test_an_endless_iterator_with_buffersize_yields_in_order(native):
    assert list(itertools.islice(native.map(double, itertools.count(), buffersize=4), 10)) == list(range(0, 20, 2))


def test_buffersize_reads_the_inputs_lazily(native):
    read = []

    def numbers():
        for i in itertools.count():
            read.append(i)
            yield i

    results = native.map(double, numbers(), buffersize=3)
    assert next(results) == 0
    assert len(read) <= 4   # 3 submitted ahead, then one more once the first was read
    results.close()


def test_buffersize_unordered_gives_every_result(native):
    got = list(native.map(double, range(12), ordered=False, buffersize=5))
    assert sorted(got) == list(range(0, 24, 2))


def test_buffersize_with_a_failure_yields_up_to_it_then_raises(native):
    results = native.map(fails_at, range(10), [4] * 10, buffersize=2)
    assert [next(results) for _ in range(4)] == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="bad item 4"):
        next(results)
    assert native.submit(double, 1).result() == 2   # the client goes on


def test_the_module_level_map_takes_buffersize(native):
    treadle.set_default_client(native)
    try:
        assert list(itertools.islice(treadle.map(double, itertools.count(), buffersize=2), 3)) == [0, 2, 4]
    finally:
        treadle.set_default_client(None)


@pytest.mark.parametrize("kwargs, error, text", [
    ({"window": 0}, ValueError, "window must be at least 1"),
    ({"window": "x"}, TypeError, "window must be an int, not str"),
    ({"buffersize": 0}, ValueError, "buffersize must be at least 1"),
    ({"buffersize": 2.5}, TypeError, "buffersize must be an int, not float"),
    ({"buffersize": True}, TypeError, "buffersize must be an int, not bool"),
])
def test_bad_window_or_buffersize_raises_at_the_call_naming_it(native, kwargs, error, text):
    with pytest.raises(error, match=text):
        native.map(double, range(3), **kwargs)
