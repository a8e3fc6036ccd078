"""When the native API sends calls (python/treadle/api.py): calls that come quickly go in one
batch (a plan), sent a few milliseconds after the first or once something waits; a call made
after a quiet spell goes at once, since nothing is coming to batch it with (a lone call, or the
first of a map, would otherwise wait the batching delay for nothing).

No flush timer fires in these tests (its delay is set to an hour), so whatever was sent was
sent by the calls themselves, and nothing here depends on how fast the machine is.
"""

import sys

import cloudpickle
import pytest

import treadle
import treadle.api

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def twice(x):
    return 2 * x


def sent(future):
    return future._handle is not None   # its server-side handle, set when sent (asking the server would send it)


@pytest.fixture
def client(cluster, monkeypatch):
    monkeypatch.setattr(treadle.api, "_FLUSH_DELAY", 3600.0)
    monkeypatch.setattr(treadle.api, "_QUIET_SECONDS", 3600.0, raising=False)  # every call within the hour comes "quickly"
    c = treadle.Client(cluster, output=None)
    yield c
    c.close()


def test_the_first_call_goes_at_once_and_the_calls_behind_it_wait_for_the_batch(client):
    first = client.submit(twice, 1)
    assert sent(first), "the first call of a quiet client waited to be batched"
    behind = [client.submit(twice, i) for i in range(2, 6)]
    assert not any(sent(f) for f in behind), "calls that came quickly were sent one by one"
    assert client.gather([first] + behind) == [2, 4, 6, 8, 10]   # the wait sends them, in one batch
    assert all(sent(f) for f in behind)


def test_after_a_quiet_spell_the_next_call_goes_at_once_again(client, monkeypatch):
    assert client.submit(twice, 1).result() == 2
    monkeypatch.setattr(treadle.api, "_QUIET_SECONDS", 0.0, raising=False)  # the spell since that send was quiet enough
    later = client.submit(twice, 2)
    assert sent(later)
    assert later.result() == 4
