"""A native call the server would refuse fails alone (python/treadle/api.py, refused_calls.py).

Calls are sent in batches, one plan each. A call the protocol cannot carry (a label over 4096
bytes, more than 4096 cpus) fails at the call, naming the option. Should the server refuse a
plan for another reason, only the calls it refuses fail, each at its own wait; the batch's
other calls run, and later calls are not refused with it (the refused batch was once put back
and refused again at every later call, leaving the client unusable).
"""

import sys

import cloudpickle
import pytest

import treadle
import treadle.api
from treadle.core.errors import LoomException

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def twice(x):
    return 2 * x


@pytest.fixture
def client(cluster, monkeypatch):
    # No flush timer fires: the calls below go in the batches the test makes.
    monkeypatch.setattr(treadle.api, "_FLUSH_DELAY", 3600.0)
    monkeypatch.setattr(treadle.api, "_QUIET_SECONDS", 3600.0)
    c = treadle.Client(cluster, output=None)
    yield c
    c.close()


def test_options_the_server_would_refuse_fail_at_the_call(client):
    healthy = [client.submit(twice, i) for i in range(3)]
    with pytest.raises(ValueError, match="label has 5000 bytes"):
        treadle.task(label="x" * 5000, client=client)
    with pytest.raises(ValueError, match="cpus must be an integer from 0 to 4096, got 5000"):
        treadle.task(cpus=5000, client=client)
    with pytest.raises(ValueError, match="cpus"):
        treadle.task(cpus=-1, client=client)
    with pytest.raises(TypeError, match="label must be a str, not int"):
        treadle.task(label=42, client=client)

    def named(x):
        return x
    named.__name__ = "é" * 3000   # 6000 bytes: the default label is the function's name
    with pytest.raises(ValueError, match="label has 6000 bytes"):
        client.submit(named, 1)
    assert client.gather(healthy) == [0, 2, 4]
    assert list(client.map(twice, range(4))) == [0, 2, 4, 6]
    assert treadle.task(label="é" * 2048, client=client)(twice)(5).result() == 10   # 4096 bytes: the bound itself


def test_a_plan_the_server_refuses_fails_only_the_calls_it_refuses(client, monkeypatch):
    monkeypatch.setattr(treadle.api, "check_options", lambda label, cpus: None, raising=False)  # as if the client knew no bound
    first = client.submit(twice, 1)                     # sent at once, alone
    before = [client.submit(twice, i) for i in range(2, 5)]
    bad = treadle.task(label="x" * 5000, client=client)(twice)(7)
    taking_bad = client.submit(twice, bad)
    after = client.submit(twice, 9)
    assert client.gather([first] + before + [after]) == [2, 4, 6, 8, 18]
    with pytest.raises(LoomException, match="labels"):
        bad.result()
    with pytest.raises(LoomException, match="labels"):
        taking_bad.result()
    # Later calls, in batches of their own, are not refused with it.
    assert client.submit(twice, 10).result() == 20
    assert list(client.map(twice, range(5))) == [0, 2, 4, 6, 8]
    assert client.gather([client.submit(twice, i) for i in range(3)]) == [0, 2, 4]
