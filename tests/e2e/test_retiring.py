"""A worker retired on purpose hands its objects off first: nothing it made is computed again
(docs/architecture.md, "Retiring"). Each task run appends a line to a file, so a re-run shows."""

import os
import sys

import cloudpickle
import pytest

import treadle
from tests.conftest import wait_until

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def record_run(log, name, value, *inputs):
    import os
    with open(log, "a") as f:
        f.write("{} {}\n".format(name, os.getppid()))
    return value + sum(inputs)


def wait_for_file(path):
    import os
    import time
    while not os.path.exists(path):
        time.sleep(0.01)
    return 1


def runs(log):
    with open(log) as f:
        return sorted(line.split()[0] for line in f)


@pytest.mark.timeout(90)
def test_a_retired_worker_hands_its_objects_off_and_nothing_is_recomputed(make_cluster, tmp_path):
    log, gate = str(tmp_path / "runs.log"), str(tmp_path / "gate")
    cluster = make_cluster(workers=1, cpus=2)
    client = treadle.Client(cluster, output=None)
    (only,) = client.status()["workers"]
    # Made on the only worker: two results the client holds, one held only by an unfinished
    # consumer, and a task still running there when it retires (it waits for the gate).
    kept = [client.submit(record_run, log, "kept{}".format(i), i) for i in range(2)]
    middle = client.submit(record_run, log, "middle", 10)
    client.wait(kept + [middle])
    running = client.submit(wait_for_file, gate)
    wait_until(lambda: client.status()["workers"][0]["running"] == 1, what="the gate task running")
    last = client.submit(record_run, log, "last", 100, middle, running)
    client.flush()
    client.release([middle])  # now held by `last` alone

    cluster.add_worker()
    cluster.wait_for_workers(2)
    assert client.retire_workers([only["id"]]) == [only["name"]]
    status = client.status()
    assert [w["retiring"] for w in status["workers"] if w["id"] == only["id"]] == [True]
    open(gate, "w").close()  # the running task ends on the retiring worker; it stays until then

    gone = wait_until(lambda: (lambda s: s if [w["id"] for w in s["workers"]] != [only["id"]] and
                               all(w["id"] != only["id"] for w in s["workers"]) else None)(client.status()),
                      timeout=30, what="the retired worker leaving")
    assert len(gone["workers"]) == 1
    assert cluster.workers[0].wait(10) == 0  # it stopped by itself, cleanly

    assert client.gather(kept) == [0, 1]
    assert last.result() == 10 + 100 + 1
    # Every task ran once: the objects reached the other worker before the first one left.
    assert runs(log) == ["kept0", "kept1", "last", "middle"]
    events = client.core.connection.trace(10000, kinds=["worker_joined", "worker_retiring", "worker_retired", "worker_lost"])
    kinds = [(e["kind"], e["worker"]) for e in events["events"]]
    assert ("worker_retiring", only["id"]) in kinds and ("worker_retired", only["id"]) in kinds
    assert not [k for k in kinds if k[0] == "worker_lost"]
    client.close()


@pytest.mark.timeout(60)
def test_retiring_an_unknown_worker_is_a_clear_error(make_cluster):
    cluster = make_cluster(workers=1)
    client = treadle.Client(cluster, output=None)
    with pytest.raises(Exception, match="no connected worker has id 99"):
        client.retire_workers([99])
    assert len(client.status()["workers"]) == 1
    assert client.submit(sum, [1, 2]).result() == 3
    client.close()
