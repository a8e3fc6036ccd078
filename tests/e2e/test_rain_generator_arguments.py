"""Rain's guide, "Inputs": "It is possible to pass also generators as arguments to remote
functions, and it works as expected." A generator argument is run when the task is made; the
function gets a generator over what it yielded, data objects among them as DataInstances
(rain.common.generator_arguments). An argument's error at the call reads as raised on the
caller's line: the user's own exception (a failing generator) or RainException, without
treadle's frames."""

import inspect
import os
import threading
import traceback

import pytest

from treadle.rain.client import Client, RainException, blob, remote

TREADLE_DIR = os.path.dirname(os.path.abspath(__import__("treadle").__file__))


@pytest.fixture(scope="module")
def client(cluster):
    client = Client(*cluster.address)
    yield client
    client.close()


@remote()
def total(ctx, values, more=()):
    kinds = "generator" if inspect.isgenerator(values) else type(values).__name__
    numbers = [len(v.get_bytes()) if hasattr(v, "get_bytes") else v for v in values]
    return "{} {}".format(kinds, sum(numbers) + sum(sum(g) for g in more))


@pytest.mark.timeout(60)
def test_generators_of_values_and_of_data_objects_reach_the_function(client):
    with client.new_session() as session:
        objects = [blob(b"ab"), blob(b"cde"), blob(b"fghi")]
        plain = total(x for x in [1, 2, 3])
        data = total(o for o in objects)
        picked = total(o for o in objects if o is not objects[1])   # a filtering generator
        nested = total([1], more=[(x * 10 for x in range(3))])      # in a keyword, inside a list
        for task in (plain, data, picked, nested):
            task.output.keep()
        session.submit()
        assert plain.output.fetch().get_bytes() == b"generator 6"
        assert data.output.fetch().get_bytes() == b"generator 9"
        assert picked.output.fetch().get_bytes() == b"generator 6"
        assert nested.output.fetch().get_bytes() == b"list 31"
    # Only the objects the generator yielded are the task's inputs (with the function's).
    assert [i for i in picked.inputs if i in objects] == [objects[0], objects[2]]


def _frames(error):
    return [(frame.filename, frame.name) for frame in traceback.extract_tb(error.__traceback__)]


class GeneratorFailed(Exception):
    pass


def failing():
    yield 1
    raise GeneratorFailed("from the user's generator")


@pytest.mark.timeout(60)
def test_a_failing_generator_raises_its_own_error_at_the_call(client):
    with client.new_session():
        with pytest.raises(GeneratorFailed, match="from the user's generator") as raised:
            total(failing())
        frames = _frames(raised.value)
        assert frames[0] == (__file__, "test_a_failing_generator_raises_its_own_error_at_the_call"), frames
        assert frames[-1] == (__file__, "failing"), frames
        assert not [f for f, _ in frames if f.startswith(TREADLE_DIR)], frames
        assert raised.value.__context__ is None


@pytest.mark.timeout(60)
def test_an_unpicklable_argument_is_a_rain_exception_raised_at_the_call(client):
    with client.new_session():
        with pytest.raises(RainException, match="argument values of total cannot be pickled") as raised:
            total([threading.Lock()])
        frames = _frames(raised.value)
        assert frames == [(__file__, "test_an_unpicklable_argument_is_a_rain_exception_raised_at_the_call")], frames
