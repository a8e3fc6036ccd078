"""A client process paused (SIGSTOP, as a laptop asleep) keeps its session for a grace period.

The server marks a silent but still connected client "away" instead of releasing its futures,
and holds what its tasks print; the client does not count its own pause as the server's silence.
After the grace period the session ends, and the client is told so in plain words.
"""

import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import wait_until

PAUSED_CLIENT = """
import sys
import treadle

client = treadle.Client("127.0.0.1:{port}"{options})

def shout(text, when=None):
    import os, time
    while when and not os.path.exists(when):  # the test says when
        time.sleep(0.02)
    print(text, flush=True)
    return text

kept = client.submit(shout, "kept")
kept.result()
later = client.submit(shout, "printed while away", {flag!r})  # ends while this process is stopped
client.flush()  # sent now, not after this process is stopped
print("ready", flush=True)
sys.stdin.readline()
try:
    both = client.submit(lambda a, b: a + " + " + b, kept, later)  # needs both futures on the server
    print("result:", both.result(), flush=True)
    print("new:", client.submit(sum, [1, 2, 3]).result(), flush=True)
except Exception as e:
    print("error:", e, flush=True)
"""


def start_client(cluster, options="", flag=None):
    code = PAUSED_CLIENT.format(port=cluster.port, options=options, flag=None if flag is None else str(flag))
    proc = subprocess.Popen([sys.executable, "-c", code],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = ""
    for line in proc.stdout:  # what its first task printed, then "ready"
        seen += line
        if line.strip() == "ready":
            return proc
    out, err = proc.communicate()
    pytest.fail("the client did not start: " + seen + out + err)


def resume(proc):
    """SIGCONT, then let the script go on; returns its (stdout, stderr)."""
    proc.send_signal(signal.SIGCONT)
    return proc.communicate("go\n", timeout=30)


def ended(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.communicate()


@pytest.mark.timeout(60)
def test_paused_client_resumes_its_session(make_cluster, make_client, tmp_path):
    cluster = make_cluster(workers=1, cpus=1, server_args=["--client-timeout", "2500"])
    observer = make_client(cluster.address)
    flag = tmp_path / "print now"
    proc = start_client(cluster, options=", server_timeout=3", flag=flag)
    try:
        proc.send_signal(signal.SIGSTOP)
        wait_until(lambda: observer.status()["clients_away"] == 1, timeout=20,
                   what="the server marking the stopped client away")
        finished = observer.status()["states"]["finished"]
        flag.touch()  # its task prints while it is away: the server holds that for it
        wait_until(lambda: observer.status()["states"]["finished"] == finished + 1, timeout=20,
                   what="its task ending")
        time.sleep(3.5)  # the stimulus: stopped for longer than the client waits for a silent server
        out, err = resume(proc)
    finally:
        ended(proc)
    assert "result: kept + printed while away" in out, out + err
    assert "new: 6" in out, out + err
    assert "printed while away" in out.split("result:")[0]  # the task's output, held for the client
    assert proc.returncode == 0, err
    wait_until(lambda: observer.status()["clients"] == 1, timeout=10, what="the client leaving")


@pytest.mark.timeout(60)
def test_client_paused_past_the_grace_period_is_told_so(make_cluster, make_client):
    cluster = make_cluster(workers=1, cpus=1, server_args=["--client-timeout", "2500", "--client-grace", "2"])
    observer = make_client(cluster.address)
    proc = start_client(cluster)
    try:
        proc.send_signal(signal.SIGSTOP)
        wait_until(lambda: observer.status()["clients"] == 1, timeout=20,
                   what="the server ending the stopped client's session")
        out, err = resume(proc)
    finally:
        ended(proc)
    assert ("error: the server ended this client's session after 2 s without contact; "
            "its futures were released") in out, out + err
    # its futures were released: nothing of its work stays live
    wait_until(lambda: (lambda s: s["assigned"] + s["running"] + s["ready"] + s["waiting"] + s["finished"] == 0)(
        observer.status()["states"]), timeout=10, what="the ended session's tasks being released")


@pytest.mark.timeout(60)
def test_client_stopped_for_seconds_with_default_timeouts(make_cluster, make_client):
    # Realistic numbers: stopped until the server (15 s) marks it away, longer than the 12 s a
    # client waits for a silent server; before, the server released its futures and the client
    # failed every call with "lost the connection".
    cluster = make_cluster(workers=1, cpus=1)
    observer = make_client(cluster.address)
    proc = start_client(cluster)
    try:
        proc.send_signal(signal.SIGSTOP)
        wait_until(lambda: observer.status().get("clients_away") == 1, timeout=30,
                   what="the server marking the stopped client away")
        out, err = resume(proc)
    finally:
        ended(proc)
    assert "result: kept + printed while away" in out, out + err
    assert "new: 6" in out, out + err


def socket_fds(pid):
    """The fd numbers of the process's open sockets."""
    import os
    out = set()
    for name in os.listdir("/proc/{}/fd".format(pid)):
        try:
            if os.readlink("/proc/{}/fd/{}".format(pid, name)).startswith("socket:"):
                out.add(int(name))
        except OSError:
            pass  # closed meanwhile
    return out


@pytest.mark.timeout(60)
def test_a_killed_client_is_lost_even_when_a_new_connection_reuses_its_fd(make_cluster, make_client):
    # The server told a dead client (connection closed) from a paused one (still connected) by
    # looking up its connection's fd among the closed ones; the next client to connect got the
    # same fd number, and the dead client was kept "away" for the whole grace period (300 s),
    # its work with it. Nested tasks, whose clients come and go, met this under load.
    cluster = make_cluster(workers=1, cpus=1, server_args=["--client-timeout", "1000"])
    observer = make_client(cluster.address)
    server_pid = cluster.server.pid
    before = socket_fds(server_pid)
    proc = start_client(cluster)
    try:
        its_fds = socket_fds(server_pid) - before
        assert its_fds, "the client's connection is not among the server's sockets"
        proc.kill()
        proc.wait()
        wait_until(lambda: not (socket_fds(server_pid) & its_fds), what="the server closing the dead client's socket")
        newcomers = []
        while not (socket_fds(server_pid) & its_fds):  # the lowest free fd is reused at once
            assert len(newcomers) < 10, "no new connection took the dead client's fd"
            newcomers.append(make_client(cluster.address))
    finally:
        ended(proc)
    wait_until(lambda: observer.status()["clients"] == 1 + len(newcomers), timeout=20,
               what="the dead client being lost (not kept away)")
    assert observer.status()["clients_away"] == 0
