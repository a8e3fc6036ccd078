"""Placement seen from outside, through the trace: constants run beside their consumer
(docs/architecture.md, "Scheduling"), so chains and gathers of fresh constants move none of them
between workers."""

from treadle import trace as T
from treadle.loom.client import tasks


def _events(client, kind):
    return T.events(client, 200000, kinds=[kind])["events"]


def test_a_chain_merging_a_fresh_constant_per_step_fetches_none(make_cluster, make_client):
    # 10,001 tasks: more than a worker's room for light tasks (8,192), so the chain goes out in
    # slices; the constants of the later slices used to go to the other worker, and nearly every
    # step fetched its constant from there (bench workload 2b).
    cluster = make_cluster(workers=2, cpus=1)
    client = make_client(cluster.address)
    steps = 5000
    x = tasks.const(b"x")
    for _ in range(steps):
        x = tasks.merge((x, tasks.const(b"y")))
    assert client.submit_one(x).gather() == b"x" + b"y" * steps
    transfers = _events(client, "transfer")
    assert len(transfers) <= 2, "{} objects moved, e.g. {}".format(len(transfers), transfers[:3])


def test_the_constants_of_a_gather_are_made_where_it_runs(make_cluster, make_client):
    cluster = make_cluster(workers=4, cpus=1)
    client = make_client(cluster.address)
    n = 3000
    result = client.submit_one(tasks.array_make([tasks.const(b"c%d" % i) for i in range(n)])).gather()
    assert len(result) == n and result[7] == b"c7"
    made_on = {e["worker"] for e in _events(client, "task") if e["type"] == "loom/data/const"}
    assert len(made_on) == 1, "the constants were made on {} workers".format(len(made_on))
    assert _events(client, "transfer") == []
