"""Several clients: side by side, one killed mid-run, one that closes cleanly."""

import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from tests.conftest import assert_serving, run_script, wait_until
from treadle.loom.client import Client, LoomException, tasks


def test_two_clients_at_once(cluster, make_client):
    a = make_client(cluster.address)
    b = make_client(cluster.address)
    fa = a.submit([tasks.merge((tasks.const("a"), tasks.const(str(i)))) for i in range(50)])
    fb = b.submit([tasks.merge((tasks.const("b"), tasks.const(str(i)))) for i in range(50)])
    # the same task ids are never handed to both
    assert not {f.task_id for f in fa} & {f.task_id for f in fb}
    # b releasing its futures does not disturb a's
    assert b.gather(fb) == [b"b" + str(i).encode() for i in range(50)]
    assert a.gather(fa) == [b"a" + str(i).encode() for i in range(50)]


def test_two_clients_in_threads(cluster, make_client):
    clients = [make_client(cluster.address) for _ in range(2)]
    results, errors = {}, []

    def work(k):
        try:
            c = clients[k]
            out = []
            for round_ in range(20):
                f = c.submit_one(tasks.merge([tasks.const("{}:{}:{};".format(k, round_, i)) for i in range(20)]))
                out.append(f.gather())
            results[k] = out
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads), "a client thread hangs"
    for k in range(2):
        assert results[k] == ["".join("{}:{}:{};".format(k, r, i) for i in range(20)).encode() for r in range(20)]


KILLED_CLIENT = """
import sys, time
from treadle.loom.client import Client, tasks
client = Client("127.0.0.1", {port})
leaves = [tasks.sleep(0.005, tasks.const(str(i))) for i in range(3000)]
keep = client.submit_one(tasks.merge(leaves))
small = client.submit_one(tasks.const("kept by the killed client"))
small.wait()
print("submitted", flush=True)
time.sleep(60)
"""


@pytest.mark.timeout(60)
def test_client_killed_mid_run(make_cluster, make_client):
    cluster = make_cluster(workers=2, cpus=1, server_args=["--client-timeout", "1500"])
    survivor = make_client(cluster.address)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_CLIENT.format(port=cluster.port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "submitted"
        assert survivor.status()["clients"] == 2
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
    # the survivor is served, correctly, while and after the server notices the loss
    futures = survivor.submit([tasks.merge((tasks.const("s"), tasks.const(str(i)))) for i in range(100)])
    assert survivor.gather(futures) == [b"s" + str(i).encode() for i in range(100)]
    wait_until(lambda: survivor.status()["clients"] == 1, timeout=10, what="the server dropping the client")
    # the dead client's futures are released: nothing of its plan stays live or keeps running
    wait_until(lambda: (lambda s: s["assigned"] + s["running"] + s["ready"] + s["waiting"] == 0)(
        survivor.status()["states"]), timeout=20, what="the killed client's tasks settling")
    assert_serving(survivor, workers=2)


def test_client_closes_cleanly(cluster, client, make_client):
    before = client.status()["clients"]
    other = make_client(cluster.address)
    assert client.status()["clients"] == before + 1
    kept = other.submit_one(tasks.const("kept"))
    assert kept.fetch() == b"kept"
    other.close()
    wait_until(lambda: client.status()["clients"] == before, timeout=3, what="the server dropping the client")
    with pytest.raises(LoomException, match="closed"):
        other.submit_one(tasks.const("x"))
    with pytest.raises(LoomException, match="closed"):
        other.status()
    with pytest.raises(LoomException, match="closed"):
        kept.fetch()
    other.close()  # twice is fine
    kept.release()  # so is releasing a future of a closed client


def test_client_as_context_manager(cluster, client):
    before = client.status()["clients"]
    with Client(*cluster.address) as c:
        assert c.submit_one(tasks.const("inside")).gather() == b"inside"
        assert client.status()["clients"] == before + 1
    wait_until(lambda: client.status()["clients"] == before, timeout=3, what="the server dropping the client")


def test_script_exits_without_closing(cluster):
    # no close(), futures left unreleased: the interpreter still exits promptly
    done = run_script(textwrap.dedent("""
        from treadle.loom.client import Client, tasks
        client = Client("127.0.0.1", {port})
        f = client.submit_one(tasks.const("bye"))
        g = client.submit_one(tasks.sleep(0.5))
        print(f.fetch())
    """).format(port=cluster.port), timeout=20)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "b'bye'\n"


DAEMON_WAITS_AT_EXIT = """
import sys, threading, time
import treadle

client = treadle.Client("127.0.0.1:{port}")
never = client.submit(sum, [1, 2])  # no worker: it never runs
waiter = threading.Thread(target=lambda: {call}, daemon=True)
waiter.start()
# Exit while the daemon thread blocks inside the engine (its top frame is the engine call's caller).
deadline = time.monotonic() + 20
while sys._current_frames().get(waiter.ident) is None or \\
        sys._current_frames()[waiter.ident].f_code.co_name not in ("_call", "as_completed"):
    assert time.monotonic() < deadline, "the daemon thread never waited"
    time.sleep(0.01)
print("exiting", flush=True)
"""


@pytest.mark.parametrize("call", ["treadle.gather([never])", "list(treadle.as_completed([never]))"])
def test_exit_while_a_daemon_thread_waits(make_cluster, call):
    # The daemon thread is ended as the interpreter exits; that must not abort the process
    # ("terminate called without an active exception", SIGABRT).
    cluster = make_cluster(workers=0)
    done = run_script(DAEMON_WAITS_AT_EXIT.format(port=cluster.port, call=call), timeout=30)
    assert "terminate called" not in done.stderr
    assert done.returncode == 0, done.stderr
    assert done.stdout == "exiting\n"
    assert done.stderr == ""


@pytest.mark.timeout(40)
def test_server_killed_while_a_client_waits(make_cluster):
    # no workers: the task waits forever, until the server is gone
    cluster = make_cluster(workers=0)
    client = Client(*cluster.address)
    future = client.submit_one(tasks.merge((tasks.const("never"),)))
    cluster.server.kill()
    cluster.server.wait(5)
    start = time.monotonic()
    with pytest.raises(LoomException, match="lost the connection"):
        future.wait()
    assert time.monotonic() - start < 20
    with pytest.raises(LoomException):
        client.submit_one(tasks.const("x"))
    client.close()
