"""Large objects over the network (same-host handoff off) land in memory kept from the objects
received and freed before (worker/receive_memory.hpp), or touched as the worker started
(--receive-pool-prefault): reused, given back when idle (down to the prefaulted part), and never
held for a transfer that cannot finish.

As in test_same_host_handoff.py, the objects are made on a worker of 2 cpus, then workers of
3 cpus join and consumers asking for 3 cpus can only run there. The consumers' heartbeats
report `receiving` (objects partly arrived), `receive_pool` (kept memory) and `reused_bytes`."""

import functools
import glob
import hashlib
import signal

import psutil
import pytest

from tests.conftest import wait_until
from treadle.loom.client import Client, TaskFailed, tasks

NO_HANDOFF = ["--no-same-host-handoff"]


@functools.lru_cache(maxsize=None)
def seq_md5(lines):
    text = "".join("{}\n".format(i) for i in range(1, lines + 1)).encode()
    return hashlib.md5(text).hexdigest().encode() + b"  -\n", len(text)


def consumers(client):
    return [w for w in client.status()["workers"] if w["cpus"] == 3]


def consumer_sample(client, proc):
    """The status entry of the consumer worker whose process is `proc`."""
    return next(w for w in consumers(client) if w["name"].endswith(":{}".format(proc.pid)))


def make_objects(cluster, client, commands):
    made = client.submit([tasks.run(c, request=tasks.cpus(2)) for c in commands])
    client.wait(made)
    return made


def objects_and_a_consumer(make_cluster, commands, consumer_args):
    """A producer worker holding the outputs of ``commands``, then a consumer worker of 3 cpus
    started with ``consumer_args``: (client, objects, consumer process)."""
    cluster = make_cluster(workers=1, cpus=2, worker_args=NO_HANDOFF)
    client = Client(*cluster.address)
    made = make_objects(cluster, client, commands)
    consumer = cluster.add_worker(cpus=3, args=consumer_args)
    cluster.wait_for_workers(2)
    return cluster, client, made, consumer


@pytest.mark.timeout(240)
def test_objects_received_while_earlier_ones_are_freed_on_two_workers(make_cluster):
    # 4.8 to 10.9 MB each: all go in pieces; each consumer worker receives several.
    lines = [1_000_000, 1_400_000, 700_000, 1_200_000, 900_000, 1_500_000, 800_000, 1_100_000]
    cluster = make_cluster(workers=1, cpus=2, worker_args=NO_HANDOFF)
    client = Client(*cluster.address)
    made = make_objects(cluster, client, ["seq 1 {}".format(n) for n in lines])
    for _ in range(2):
        cluster.add_worker(cpus=3)
    cluster.wait_for_workers(3)
    md5 = lambda obj: tasks.run("md5sum", stdin=obj, request=tasks.cpus(3))  # noqa: E731
    failing = lambda obj: tasks.run(["sh", "-c", "head -c 10 >/dev/null; exit 3"],  # noqa: E731
                                    stdin=obj, request=tasks.cpus(3))
    previous = None
    for i, n in enumerate(lines):
        # object i arrives while object i-1 is checked and freed
        current = client.submit_one(md5(made[i]))
        bad = client.submit_one(failing(made[i])) if i == 3 else None
        if previous is not None:
            assert previous.gather() == seq_md5(lines[i - 1])[0], i - 1
            made[i - 1].release()
        if bad is not None:
            with pytest.raises(TaskFailed, match="status 3"):
                bad.gather()
        previous = current
    assert previous.gather() == seq_md5(lines[-1])[0]
    made[-1].release()
    total = sum(seq_md5(n)[1] for n in lines)
    # (the failing consumer may run on the other worker: that object is fetched twice)
    wait_until(lambda: sum(w.get("fetched_bytes", 0) for w in consumers(client)) >= total, timeout=20,
               what="the consumers reporting every object fetched")
    wait_until(lambda: sum(w.get("reused_bytes", 0) for w in consumers(client)) > 0, timeout=20,
               what="a consumer receiving an object into kept memory")
    wait_until(lambda: all(w.get("receiving", 1) == 0 for w in consumers(client)), timeout=20,
               what="nothing left half received")
    client.close()


@pytest.mark.timeout(120)
def test_kept_memory_is_given_back_when_idle(make_cluster):
    lines = 1_500_000  # 10.9 MB
    _, client, (first, second), consumer = objects_and_a_consumer(
        make_cluster, ["seq 1 {}".format(lines)] * 2, ["--receive-pool-idle", "4000"])
    expected, size = seq_md5(lines)
    assert client.submit_one(tasks.run("md5sum", stdin=first, request=tasks.cpus(3))).gather() == expected
    first.release()
    kept = wait_until(lambda: (w := consumer_sample(client, consumer)).get("receive_pool", 0) >= size and w,
                      timeout=20, what="the consumer keeping the freed object's memory")
    rss_kept = psutil.Process(consumer.pid).memory_info().rss
    # the next object lands in the kept memory
    assert client.submit_one(tasks.run("md5sum", stdin=second, request=tasks.cpus(3))).gather() == expected
    wait_until(lambda: consumer_sample(client, consumer).get("reused_bytes", 0) >= size, timeout=20,
               what="the second object received into the first one's memory")
    second.release()
    wait_until(lambda: consumer_sample(client, consumer).get("receive_pool", 0) >= size, timeout=20,
               what="the consumer keeping it again")
    # unused for 4 s: given back to the system
    wait_until(lambda: consumer_sample(client, consumer).get("receive_pool", 1) == 0, timeout=30,
               what="the kept memory given back")
    assert kept["receive_pool"] >= size
    assert psutil.Process(consumer.pid).memory_info().rss <= rss_kept - size // 2
    client.close()


@pytest.mark.timeout(60)
def test_no_memory_kept_with_receive_pool_0(make_cluster):
    lines = 1_500_000
    _, client, (first, second), consumer = objects_and_a_consumer(
        make_cluster, ["seq 1 {}".format(lines)] * 2, ["--receive-pool", "0"])
    expected, size = seq_md5(lines)
    for obj in (first, second):
        assert client.submit_one(tasks.run("md5sum", stdin=obj, request=tasks.cpus(3))).gather() == expected
        obj.release()
    w = wait_until(lambda: (w := consumer_sample(client, consumer)).get("fetched_bytes", 0) >= 2 * size and w,
                   timeout=20, what="both objects fetched")
    assert w["receive_pool"] == 0 and w["reused_bytes"] == 0, w
    client.close()


def kill_the_producer_mid_transfer(cluster, client, made, consumer, nbytes):
    """The consumer counts ``made`` (``nbytes`` from the first worker); that producer is killed
    while the object is on its way (20 MB of pieces in the consumer's memory), a new worker
    makes it again, the count comes out right and ``made`` is released."""
    producer = cluster.workers[0]
    rss = psutil.Process(consumer.pid)
    base = rss.memory_info().rss
    count = client.submit_one(tasks.run("wc -c", stdin=made, request=tasks.cpus(3)))
    wait_until(lambda: rss.memory_info().rss > base + 20_000_000, timeout=60, interval=0.005,
               what="the transfer under way")
    producer.send_signal(signal.SIGKILL)
    producer.wait()
    cluster.add_worker(cpus=2)  # where the object is made again
    assert count.gather() == "{}\n".format(nbytes).encode()
    made.release()


@pytest.mark.timeout(180)
def test_a_producer_killed_mid_transfer_leaves_nothing_held(make_cluster):
    nbytes = 300_000_000
    cluster, client, (made,), consumer = objects_and_a_consumer(
        make_cluster, ["head -c {} /dev/zero".format(nbytes)], ["--receive-pool-idle", "1000"])
    kill_the_producer_mid_transfer(cluster, client, made, consumer, nbytes)
    # whatever came of the dead producer's pieces is dropped, and the memory given back
    wait_until(lambda: (w := consumer_sample(client, consumer)).get("receiving", 1) == 0
               and w.get("receive_pool", 1) == 0, timeout=30, what="nothing held for the lost transfer")
    client.close()


PREFAULT = 32 << 20


@pytest.mark.timeout(120)
def test_a_prefaulted_pool_takes_the_first_object_byte_for_byte_and_stays_when_idle(make_cluster):
    lines = 1_500_000  # 10.9 MB
    _, client, (first, second), consumer = objects_and_a_consumer(
        make_cluster, ["seq 1 {}".format(lines)] * 2,
        ["--receive-pool-prefault", str(PREFAULT), "--receive-pool-idle", "1000"])
    expected, size = seq_md5(lines)
    # touched in the background as the worker starts, before any object came
    w = wait_until(lambda: (w := consumer_sample(client, consumer)).get("receive_pool", 0) >= PREFAULT and w,
                   timeout=30, what="the consumer's pool prefaulted")
    assert w["receive_pool"] == PREFAULT and w["fetched_bytes"] == 0 and w["reused_bytes"] == 0, w
    # the very first object lands in that memory, whole and exact
    assert client.submit_one(tasks.run("md5sum", stdin=first, request=tasks.cpus(3))).gather() == expected
    wait_until(lambda: consumer_sample(client, consumer).get("reused_bytes", 0) >= size, timeout=20,
               what="the first object received into prefaulted memory")
    first.release()
    assert client.submit_one(tasks.run("md5sum", stdin=second, request=tasks.cpus(3))).gather() == expected
    second.release()
    wait_until(lambda: consumer_sample(client, consumer).get("reused_bytes", 0) >= 2 * size, timeout=20,
               what="the second object received into kept memory")
    # idle for 1 s: given back down to what was prefaulted, not below
    w = wait_until(lambda: (w := consumer_sample(client, consumer)).get("receive_pool", 0) == PREFAULT
                   and w.get("objects") == 0 and w, timeout=30, what="the pool back to its prefaulted size")
    assert w["receiving"] == 0, w
    client.close()


@pytest.mark.timeout(180)
def test_a_producer_killed_mid_transfer_into_a_prefaulted_pool(make_cluster):
    nbytes = 300_000_000
    cluster, client, (made,), consumer = objects_and_a_consumer(
        make_cluster, ["head -c {} /dev/zero".format(nbytes)],
        ["--receive-pool-prefault", str(PREFAULT), "--receive-pool-idle", "1000"])
    wait_until(lambda: consumer_sample(client, consumer).get("receive_pool", 0) >= PREFAULT, timeout=30,
               what="the consumer's pool prefaulted")
    # killed once the pieces went past the prefaulted memory into fresh pages
    kill_the_producer_mid_transfer(cluster, client, made, consumer, nbytes)
    # the dead producer's pieces are dropped; what is kept goes back down to the prefaulted part
    wait_until(lambda: (w := consumer_sample(client, consumer)).get("receiving", 1) == 0
               and w.get("receive_pool", 0) == PREFAULT, timeout=30,
               what="nothing held for the lost transfer beyond the prefaulted pool")
    client.close()


def host_takes_back_free_memory():
    """As the worker reads it (worker/page_reporting.cpp): a virtio balloon reporting free pages
    (feature bit 5)."""
    for path in glob.glob("/sys/bus/virtio/drivers/virtio_balloon/*/features"):
        with open(path) as f:
            features = f.read().strip()
        if len(features) > 5 and features[5] == "1":
            return True
    return False


def mappings_holding(pid, nbytes):
    """The VmFlags of `pid`'s mappings of at least `nbytes`."""
    flags, size = [], 0
    with open("/proc/{}/smaps".format(pid)) as f:
        for line in f:
            if line.startswith("Size:"):
                size = int(line.split()[1]) * 1024
            elif line.startswith("VmFlags:") and size >= nbytes:
                flags.append(line.split()[1:])
    return flags


@pytest.mark.timeout(120)
@pytest.mark.parametrize("choice", ["yes", "no", "auto"])
def test_fresh_receive_memory_in_huge_pages_or_not(make_cluster, choice):
    # On a VM whose host takes freed memory back, fresh huge pages are mostly unbacked there,
    # 4 KiB ones backed: "auto" asks for 4 KiB pages on such a host (bench/README.md, workload 5).
    lines = 1_500_000  # 10.9 MB, in a fresh 12 MiB buffer
    _, client, (made,), consumer = objects_and_a_consumer(
        make_cluster, ["seq 1 {}".format(lines)], ["--receive-huge-pages", choice])
    expected, size = seq_md5(lines)
    assert client.submit_one(tasks.run("md5sum", stdin=made, request=tasks.cpus(3))).gather() == expected
    huge = choice == "yes" or (choice == "auto" and not host_takes_back_free_memory())
    held = mappings_holding(consumer.pid, size)  # the object is still held by `made`
    assert any(("hg" if huge else "nh") in f for f in held), held
    assert not any(("nh" if huge else "hg") in f for f in held), held
    client.close()
