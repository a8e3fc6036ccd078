"""treadle.remote without namespaces: host lists, the loopback check, and the remote supervisor
run through a stand-in for ssh that executes the remote command on this machine."""

import json
import os
import shutil
import signal
import socket
import stat
import sys
import textwrap
import time

import cloudpickle
import psutil
import pytest

import treadle
from treadle.remote import RemoteWorkerError, host_cpu_count, parse_hostfile, parse_hosts, start_remote_workers

cloudpickle.register_pickle_by_value(sys.modules[__name__])   # tasks defined here travel by value


def write(tmp_path, text):
    path = tmp_path / "hosts"
    path.write_text(textwrap.dedent(text))
    return str(path)


# -- parse_hostfile / parse_hosts ---------------------------------------------------------------

def test_hostfile_in_scoop_format(tmp_path):
    path = write(tmp_path, """\
        # our machines
        hostname_or_ip 4
        other_hostname

        third_hostname 2   # the small one
        user@10.0.0.7\t3
        """)
    assert parse_hostfile(path) == [("hostname_or_ip", 4), ("other_hostname", 1), ("third_hostname", 2),
                                     ("user@10.0.0.7", 3)]


@pytest.mark.parametrize("line, message", [
    ("a 2 3", "expected 'host [n]'"),
    ("a 0", "positive integer"),
    ("a two", "positive integer"),
    ("a -1", "positive integer"),
    ("-oProxyCommand=evil", "not a host name"),
])
def test_hostfile_bad_lines_name_the_line(tmp_path, line, message):
    path = write(tmp_path, "# hosts\ngood 2\n\n{}\n".format(line))
    with pytest.raises(ValueError) as e:
        parse_hostfile(path)
    assert "line 4" in str(e.value) and path in str(e.value) and message in str(e.value)


def test_hostfile_without_hosts(tmp_path):
    with pytest.raises(ValueError, match="no hosts"):
        parse_hostfile(write(tmp_path, "# nothing here\n\n"))


def test_host_lists():
    assert parse_hosts("a,b:2,c") == [("a", 1), ("b", 2), ("c", 1)]
    assert parse_hosts(" a , b:3 ,") == [("a", 1), ("b", 3)]
    assert parse_hosts(["x:2", "y"]) == [("x", 2), ("y", 1)]
    assert parse_hosts("me@node1:4") == [("me@node1", 4)]
    assert parse_hosts("[fd00::1]:2,[fd00::2],fd00::3") == [("fd00::1", 2), ("fd00::2", 1), ("fd00::3", 1)]


@pytest.mark.parametrize("text", ["", ",", "a:0", "a:x", "a:-2", "[fd00::1", "[fd00::1]x", "-x", "a b"])
def test_bad_host_lists(text):
    with pytest.raises(ValueError):
        parse_hosts(text)


# -- the server address ---------------------------------------------------------------------------

@pytest.mark.parametrize("address", [("127.0.0.1", 9010), "127.0.0.1:9010", ("::1", 9010), "localhost:9010"])
def test_a_loopback_server_cannot_take_remote_workers(address):
    with pytest.raises(ValueError) as e:
        start_remote_workers(address, [("10.213.7.2", 2), ("192.0.2.1", 1)])
    text = str(e.value)
    assert "loopback" in text and "10.213.7.2" in text and "192.0.2.1" in text
    assert "start the server on an address these hosts can reach" in text and "--host" in text


def test_bad_arguments():
    with pytest.raises(ValueError, match="cpus"):
        start_remote_workers(("10.213.7.1", 1), [("10.213.7.2", 1)], cpus=0)
    with pytest.raises(ValueError, match="host:port"):
        start_remote_workers("10.213.7.1", [("10.213.7.2", 1)])
    with pytest.raises(ValueError, match="one non-empty line"):
        start_remote_workers(("10.213.7.1", 1), [("10.213.7.2", 1)], secret="two\nlines")


# -- the supervisor, through a stand-in for ssh -----------------------------------------------------

FAKE_SSH = """\
#!/usr/bin/python3
# Logs its arguments, forgets the secret (a real ssh does not pass the environment on), and runs
# the remote command here the way sshd would: with the user's shell.
import json, os, sys
with open({log!r}, "a") as f:
    f.write(json.dumps(sys.argv) + "\\n")
for name in ("TREADLE_SECRET", "TREADLE_SECRET_FILE", "PYTHONPATH"):
    os.environ.pop(name, None)
os.execv("/bin/sh", ["sh", "-c", sys.argv[-1]])
"""


@pytest.fixture
def fake_ssh(tmp_path):
    log = tmp_path / "ssh.log"
    path = tmp_path / "ssh"
    path.write_text(FAKE_SSH.format(log=str(log)))
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return {"ssh": str(path), "calls": lambda: [json.loads(l) for l in log.read_text().splitlines()]}


def remote_pid():
    return os.getpid(), os.getppid()


def test_supervisor_starts_and_stops_workers(make_cluster, fake_ssh, tmp_path):
    cluster = make_cluster(workers=0)
    remote = start_remote_workers(cluster.address, [("127.0.0.1", 2)], cpus=2, ssh=fake_ssh["ssh"],
                                  ssh_args=["-p", "2222"], worker_args=["--workdir", str(tmp_path)])
    with remote:
        assert len(remote.processes) == 1
        text = remote.describe()
        assert "2 remote workers (4 cpus) on 1 host" in text and "2 workers x 2 cpus" in text
        assert "running pids" in text
        status = treadle.Client(cluster.address)
        try:
            assert len(status.status()["workers"]) == 2
            pids = status.gather([status.submit(remote_pid) for _ in range(8)])
        finally:
            status.close()
        workers = {ppid for _, ppid in pids}
        assert workers <= set(int(p) for p in text.split("pids ")[1].split())
        (argv,) = fake_ssh["calls"]()
        assert "BatchMode=yes" in argv and argv[argv.index("-p") + 1] == "2222" and argv[-2] == "127.0.0.1"
        assert os.environ["TREADLE_SECRET"] not in " ".join(argv)
        assert " --cpus 2 " in argv[-1]
    assert remote.processes[0].returncode == 0
    assert "stopped (code 0)" in remote.describe()
    for pid in workers:
        try:   # one question: it may be reaped between two
            assert psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            pass


def test_workers_die_with_a_killed_session(make_cluster, fake_ssh, tmp_path):
    cluster = make_cluster(workers=0)
    remote = start_remote_workers(cluster.address, "127.0.0.1:2", ssh=fake_ssh["ssh"],
                                  worker_args=["--workdir", str(tmp_path)])
    try:
        supervisor = psutil.Process(remote.processes[0].pid)   # the stand-in exec'd into it
        workers = supervisor.children()
        assert len(workers) == 2
        os.kill(supervisor.pid, signal.SIGKILL)
        gone, alive = psutil.wait_procs(workers, timeout=5)
        assert not alive
    finally:
        remote.stop()


def test_exiting_workers_are_reported(make_cluster, fake_ssh):
    cluster = make_cluster(workers=0)
    t = time.monotonic()
    with pytest.raises(RemoteWorkerError) as e:
        start_remote_workers(cluster.address, [("127.0.0.1", 1)], ssh=fake_ssh["ssh"],
                             worker_args=["--no-such-option"])
    assert e.value.host == "127.0.0.1" and "127.0.0.1" in str(e.value)
    assert "no-such-option" in str(e.value) and "exited with code" in str(e.value), str(e.value)
    assert time.monotonic() - t < 10


@pytest.mark.skipif(not shutil.which("ssh"), reason="needs the ssh client (openssh-client)")
def test_ssh_that_fails_is_reported(make_cluster):
    cluster = make_cluster(workers=0)
    with socket.socket() as s:          # a port on 127.0.0.1 that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t = time.monotonic()
    with pytest.raises(RemoteWorkerError) as e:
        start_remote_workers(cluster.address, [("127.0.0.1", 1)], ssh_args=["-p", str(port)], timeout=10)
    assert e.value.host == "127.0.0.1"
    assert "ssh to 127.0.0.1 failed" in str(e.value) and "Connection refused" in str(e.value), str(e.value)
    assert time.monotonic() - t < 10


# -- --prolog and "one worker per core" over the ssh path ------------------------------------------

def prolog_mark():
    return os.environ.get("TREADLE_PROLOG_MARK"), os.getppid()


def test_the_prolog_is_sourced_before_the_workers_start(make_cluster, fake_ssh, tmp_path):
    cluster = make_cluster(workers=0)
    ran = tmp_path / "prolog-ran"
    prolog = tmp_path / "prolog.sh"
    prolog.write_text("export TREADLE_PROLOG_MARK=sourced\necho $$ >> {}\n".format(ran))
    with start_remote_workers(cluster.address, [("127.0.0.1", 2)], ssh=fake_ssh["ssh"], prolog=str(prolog),
                              worker_args=["--workdir", str(tmp_path)]):
        client = treadle.Client(cluster.address)
        try:
            marks = client.gather([client.submit(prolog_mark) for _ in range(6)])
        finally:
            client.close()
    assert {mark for mark, _ in marks} == {"sourced"}
    assert len(ran.read_text().split()) == 1   # once per host's session, before its supervisor


def test_a_failing_prolog_is_reported_with_its_output(make_cluster, fake_ssh, tmp_path):
    cluster = make_cluster(workers=0)
    prolog = tmp_path / "prolog.sh"
    prolog.write_text("echo 'module: no such module pyenv/3.99' >&2\nfalse\n")
    with pytest.raises(RemoteWorkerError) as e:
        start_remote_workers(cluster.address, [("127.0.0.1", 1)], ssh=fake_ssh["ssh"], prolog=str(prolog), timeout=10)
    assert e.value.host == "127.0.0.1" and "no such module pyenv/3.99" in str(e.value), str(e.value)


def test_host_cpu_count_runs_nproc_over_ssh(fake_ssh):
    assert host_cpu_count("127.0.0.1", ssh=fake_ssh["ssh"], ssh_args=["-p", "2222"]) == len(os.sched_getaffinity(0))
    (argv,) = fake_ssh["calls"]()
    assert "BatchMode=yes" in argv and argv[-2:] == ["127.0.0.1", "nproc"] and "2222" in argv


@pytest.mark.skipif(not shutil.which("ssh"), reason="needs the ssh client (openssh-client)")
def test_host_cpu_count_of_an_unreachable_host_names_it():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RemoteWorkerError) as e:
        host_cpu_count("127.0.0.1", ssh_args=["-p", str(port)], timeout=10)
    assert e.value.host == "127.0.0.1" and "number of cores" in str(e.value) and "refused" in str(e.value)
