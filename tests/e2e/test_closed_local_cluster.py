"""A client of a local_cluster the program closed fails at once, naming the closed cluster, and
a default client whose cluster closed stays the default only until another client is made
(docs/python-tasks.md, "the default client")."""

import time

import pytest

import treadle
from treadle.loom.client import LoomException


def echo(x):
    return x


def _closed_message(cluster):
    return "the cluster this client was connected to was closed (local_cluster at 127.0.0.1:{})".format(cluster.port)


@pytest.mark.timeout(60)
def test_a_client_of_a_closed_local_cluster_fails_at_once_naming_it():
    treadle.set_default_client(None)
    cluster = treadle.local_cluster(workers=1, cpus=1)
    client = treadle.Client(cluster, output=None)
    assert treadle.default_client(make=False) is client
    assert client.submit(echo, 3).result() == 3
    pending = client.submit(echo, 4)   # made before the close, sent after it
    cluster.close()
    # No timing here: the old wait (12 s) ended in another message ("lost the connection").
    with pytest.raises(LoomException, match=r"^{}".format(_closed_message(cluster).replace("(", r"\(").replace(")", r"\)"))):
        pending.result()
    with pytest.raises(LoomException, match="was closed"):
        client.submit(echo, 5).result()
    # The default is still that client: module-level calls say why they cannot run (rather
    # than start a cluster of their own, or wait on the dead one) ...
    assert treadle.default_client(make=False) is client
    with pytest.raises(LoomException, match="was closed"):
        list(treadle.map(echo, range(3)))
    # ... until another client is made: it becomes the default.
    with treadle.local_cluster(workers=1, cpus=1) as second:
        other = treadle.Client(second, output=None)
        assert treadle.default_client(make=False) is other
        assert list(treadle.map(echo, range(3))) == [0, 1, 2]
        other.close()
    client.close()
    treadle.set_default_client(None)


@pytest.mark.timeout(60)
def test_a_hyperloom_client_of_a_closed_local_cluster_fails_at_once():
    from treadle.loom.client import Client, tasks
    cluster = treadle.local_cluster(workers=1, cpus=1)
    client = Client(*cluster.address)
    assert client.submit_one(tasks.const(b"x")).gather() == b"x"
    cluster.close()
    with pytest.raises(LoomException, match=r"^the cluster this client was connected to was closed"):
        client.submit_one(tasks.const(b"y")).gather()
    client.close()
