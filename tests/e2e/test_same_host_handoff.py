"""Large objects between workers on one host: taken by their files, no bytes on the wire
(worker/same_host_handoff.hpp); and the network path when that is switched off.

Each test makes the object on a worker of 2 cpus, then a worker of 3 cpus joins and a consumer
asking for 3 cpus can only run there, so the object must go from one worker to the other. The
workers' counters (status: `handed_bytes` taken by file, `fetched_bytes` over the network, as
their heartbeats report them) say which way it went."""

import hashlib
import os
import shutil
import signal

import pytest

from tests.conftest import wait_until
from treadle.loom.client import Client, TaskFailed, tasks
from treadle.rain.client import Client as RainClient, InputDir, OutputDir, tasks as rain_tasks

LINES = 400_000
EXPECTED = "".join("{}\n".format(i) for i in range(1, LINES + 1)).encode()  # `seq 1 400000`: 2.7 MB
MD5 = hashlib.md5(EXPECTED).hexdigest().encode()


def producer_then_consumer_worker(make_cluster, worker_args=()):
    """A cluster of one 2-cpu worker (the producer); call the returned function to add the 3-cpu
    consumer worker."""
    cluster = make_cluster(workers=1, cpus=2, worker_args=list(worker_args))
    client = Client(*cluster.address)

    def add_consumer():
        cluster.add_worker(cpus=3)
        cluster.wait_for_workers(2)

    return cluster, client, add_consumer


def worker_with(client, cpus):
    return next(w for w in client.status()["workers"] if w["cpus"] == cpus)


def counters_after(client, cpus, key, at_least):
    """The 3-cpu worker's counters once its heartbeat reports `key` >= at_least."""
    return wait_until(lambda: (w := worker_with(client, cpus)).get(key, 0) >= at_least and w,
                      timeout=10, what="the consumer worker reporting {} >= {}".format(key, at_least))


def seq_bytes(lines):
    return "".join("{}\n".format(i) for i in range(1, lines + 1)).encode()


def md5_on_consumer(obj):
    return tasks.run("md5sum", stdin=obj, request=tasks.cpus(3))


@pytest.mark.timeout(60)
def test_same_host_handoff_moves_no_bytes_over_the_wire(make_cluster):
    cluster, client, add_consumer = producer_then_consumer_worker(make_cluster)
    made = client.submit_one(tasks.run("seq 1 {}".format(LINES), request=tasks.cpus(2)))
    client.wait([made])
    add_consumer()
    assert client.submit_one(md5_on_consumer(made)).gather() == MD5 + b"  -\n"
    consumer = counters_after(client, 3, "handed_bytes", len(EXPECTED))
    assert consumer["handed_bytes"] == len(EXPECTED) and consumer["fetched_bytes"] == 0, consumer
    client.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("switch", ["flag", "environment"])
def test_the_network_path_when_handoff_is_off(make_cluster, monkeypatch, switch):
    if switch == "environment":
        monkeypatch.setenv("TREADLE_SAME_HOST_HANDOFF", "0")
    args = ["--no-same-host-handoff"] if switch == "flag" else []
    cluster, client, add_consumer = producer_then_consumer_worker(make_cluster, args)
    made = client.submit_one(tasks.run("seq 1 {}".format(LINES), request=tasks.cpus(2)))
    client.wait([made])
    add_consumer()
    assert client.submit_one(md5_on_consumer(made)).gather() == MD5 + b"  -\n"
    consumer = counters_after(client, 3, "fetched_bytes", len(EXPECTED))
    assert consumer["fetched_bytes"] == len(EXPECTED) and consumer["handed_bytes"] == 0, consumer
    client.close()


@pytest.mark.timeout(60)
def test_a_large_object_over_the_network_comes_in_pieces_intact(make_cluster):
    # 1.5M lines: 10.9 MB, sent as 1 MiB pieces (worker/chunked_transfer.hpp), the last one short.
    lines = 1_500_000
    expected = seq_bytes(lines)
    cluster, client, add_consumer = producer_then_consumer_worker(make_cluster, ["--no-same-host-handoff"])
    made = client.submit_one(tasks.run("seq 1 {}".format(lines), request=tasks.cpus(2)))
    client.wait([made])
    add_consumer()
    summed = client.submit([md5_on_consumer(made), tasks.run("wc -c", stdin=made, request=tasks.cpus(3))])
    assert client.gather(summed) == [hashlib.md5(expected).hexdigest().encode() + b"  -\n",
                                     "{}\n".format(len(expected)).encode()]
    consumer = counters_after(client, 3, "fetched_bytes", len(expected))
    assert consumer["fetched_bytes"] == len(expected), consumer  # fetched once, for both
    client.close()


@pytest.mark.timeout(60)
def test_the_producer_killed_and_its_directory_gone_after_the_handoff(make_cluster, tmp_path):
    cluster, client, add_consumer = producer_then_consumer_worker(make_cluster, ["--workdir", str(tmp_path)])
    made = client.submit_one(tasks.run("seq 1 {}".format(LINES), request=tasks.cpus(2)))
    client.wait([made])
    add_consumer()
    assert client.submit_one(md5_on_consumer(made)).gather() == MD5 + b"  -\n"
    counters_after(client, 3, "handed_bytes", len(EXPECTED))
    producer = cluster.workers[0]
    producer.send_signal(signal.SIGKILL)
    producer.wait()
    wait_until(lambda: len(client.status()["workers"]) == 1, what="the server dropping the producer")
    shutil.rmtree(tmp_path / "worker-{}".format(producer.pid))  # its kept files with it
    # The consumer's copy is its own link to the file: the object lives on there, unchanged.
    assert client.submit_one(tasks.run("wc -c", stdin=made, request=tasks.cpus(3))).gather() == \
        "{}\n".format(len(EXPECTED)).encode()
    assert made.gather() == EXPECTED
    assert worker_with(client, 3)["tasks_done"] == 2  # its two consumers: nothing was recomputed
    client.close()


@pytest.mark.timeout(60)
def test_a_failing_consumer_beside_one_that_takes_the_file(make_cluster):
    cluster, client, add_consumer = producer_then_consumer_worker(make_cluster)
    made = client.submit_one(tasks.run("seq 1 {}".format(LINES), request=tasks.cpus(2)))
    client.wait([made])
    add_consumer()
    failing = tasks.run(["sh", "-c", "head -c 10 >/dev/null; exit 3"], stdin=made, request=tasks.cpus(3))
    bad, good = client.submit([failing, md5_on_consumer(made)])
    assert good.gather() == MD5 + b"  -\n"
    with pytest.raises(TaskFailed, match="status 3"):
        bad.gather()
    consumer = counters_after(client, 3, "handed_bytes", len(EXPECTED))
    assert consumer["handed_bytes"] == len(EXPECTED), consumer  # taken once, for both
    client.close()


@pytest.mark.timeout(60)
def test_a_run_tasks_output_file_is_handed_over(make_cluster):
    cluster, client, add_consumer = producer_then_consumer_worker(make_cluster)
    made = client.submit_one(tasks.run(["sh", "-c", "seq 1 {} > out.txt".format(LINES)], outputs=["out.txt"],
                                       request=tasks.cpus(2)))
    client.wait([made])
    add_consumer()
    summed = tasks.run("md5sum data", inputs=[(made, "data")], request=tasks.cpus(3))
    assert client.submit_one(summed).gather() == MD5 + b"  data\n"
    consumer = counters_after(client, 3, "handed_bytes", len(EXPECTED))
    assert consumer["fetched_bytes"] == 0, consumer
    client.close()


@pytest.mark.timeout(60)
def test_a_rain_directory_spilled_by_its_producer_is_handed_over(make_cluster):
    # The directory is a tar in memory; a producer over its memory limit spills it to a file,
    # which is what a worker on the same host can take.
    cluster, loom, add_consumer = producer_then_consumer_worker(make_cluster, ["--memory-limit", "1000"])
    rain = RainClient(*cluster.address)
    with rain.new_session() as session:
        made = rain_tasks.Execute(["sh", "-c", "mkdir d && seq 1 {} > d/numbers".format(LINES)],
                                  output_paths=[OutputDir("d")], cpus=2)
        made.output.keep()
        session.submit()
        session.wait_all()
        add_consumer()
        summed = rain_tasks.Execute("md5sum tree/numbers", input_paths=[InputDir("tree", dataobj=made)],
                                    stdout=True, cpus=3)
        summed.output.keep()
        session.submit()
        assert summed.output.fetch().get_bytes() == MD5 + b"  tree/numbers\n"
    consumer = counters_after(loom, 3, "handed_bytes", len(EXPECTED))
    assert consumer["fetched_bytes"] == 0, consumer
    rain.close()
    loom.close()
