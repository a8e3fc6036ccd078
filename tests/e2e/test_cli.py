"""The command lines of treadle-server and treadle-worker."""

import os
import signal
import socket
import subprocess

import pytest

from treadle.core import paths as _paths

SERVER = _paths.program("treadle-server")
WORKER = _paths.program("treadle-worker")


def run(args, timeout=10, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("program", [SERVER, WORKER], ids=["server", "worker"])
def test_help(program):
    done = run([program, "--help"])
    name = os.path.basename(program)
    assert done.returncode == 0
    assert done.stdout.startswith("usage: " + name)
    assert done.stderr == ""


def assert_usage_error(done, name, expected):
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.splitlines()
    assert lines[0].startswith(name + ": "), lines
    assert expected in lines[0], lines[0]
    assert lines[1].startswith("usage: " + name)
    assert done.stdout == ""


@pytest.mark.parametrize("args,expected", [
    (["--bogus"], "unknown option --bogus"),
    (["--port", "abc"], "--port needs a number, got 'abc'"),
    (["--port"], "--port needs a value"),
    (["--port", "12x"], "--port needs a number"),
    (["extra"], "unexpected argument 'extra'"),
    (["--worker-timeout", "soon"], "--worker-timeout"),
    (["--help=yes"], "--help"),
])
def test_server_bad_arguments(args, expected):
    assert_usage_error(run([SERVER] + args), "treadle-server", expected)


@pytest.mark.parametrize("args,expected", [
    ([], "give the server as HOST:PORT"),
    (["--bogus"], "unknown option --bogus"),
    (["localhost"], "not 'localhost'"),
    (["localhost:abc"], "the port in"),
    (["a:1", "b:2"], "HOST:PORT"),
    (["127.0.0.1:1", "--cpus", "0"], "--cpus"),
    (["127.0.0.1:1", "--cpus", "many"], "--cpus needs a number"),
    (["127.0.0.1:1", "--cpus"], "--cpus needs a value"),
])
def test_worker_bad_arguments(args, expected):
    assert_usage_error(run([WORKER] + args), "treadle-worker", expected)


@pytest.mark.parametrize("program,args", [
    (SERVER, ["--port", "99999"]),
    (SERVER, ["--port", "-1"]),
    (SERVER, ["--port", "0", "--worker-timeout", "-5"]),
    (WORKER, ["127.0.0.1:99999"]),
    (WORKER, ["127.0.0.1:1", "--memory-limit", "-5"]),
], ids=["server-port-99999", "server-port--1", "server-negative-timeout", "worker-port-99999",
        "worker-negative-memory"])
def test_out_of_range_numbers_are_usage_errors(program, args, tmp_path):
    if program == WORKER:
        args = args + ["--server-timeout", "300", "--workdir", str(tmp_path)]
    try:
        done = run([program] + args, timeout=2)
    except subprocess.TimeoutExpired:
        raise AssertionError("accepted: it started")
    assert done.returncode == 2, done.stderr


def test_server_prints_its_address_and_stops_on_sigterm():
    server = subprocess.Popen([SERVER, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        words = server.stdout.readline().split()
        assert words[:2] == ["listening", "127.0.0.1"]
        port = int(words[2])
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        server.send_signal(signal.SIGTERM)
        assert server.wait(5) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        err = server.stderr.read()
        server.stdout.close()
        server.stderr.close()
    assert "stopping on signal" in err


def test_server_stops_on_sigint():
    server = subprocess.Popen([SERVER, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert server.stdout.readline().startswith("listening")
        server.send_signal(signal.SIGINT)
        assert server.wait(5) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        server.stdout.close()


def test_server_on_a_busy_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        done = run([SERVER, "--port", str(port)])
    assert done.returncode == 1
    assert done.stderr.startswith("treadle-server: cannot listen on 127.0.0.1:{}".format(port))
    assert len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize("program,args", [(SERVER, ["--port", "0"]), (WORKER, ["127.0.0.1:1"])],
                         ids=["server", "worker"])
def test_missing_secret_file(program, args, tmp_path):
    missing = str(tmp_path / "no-secret")
    if program == WORKER:
        args = args + ["--workdir", str(tmp_path)]
    done = run([program, "--secret-file", missing] + args)
    assert done.returncode == 1
    assert done.stderr == "{}: cannot read secret file {}\n".format(os.path.basename(program), missing)


def test_empty_secret_file(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("")
    done = run([SERVER, "--secret-file", str(empty), "--port", "0"])
    assert done.returncode == 1
    assert "is empty" in done.stderr


def test_worker_to_a_port_with_nothing_listening(tmp_path):
    done = run([WORKER, "127.0.0.1:{}".format(free_port()), "--server-timeout", "2000",
                "--workdir", str(tmp_path)], timeout=60)
    assert "no answer from the server" in done.stderr
    assert not list(tmp_path.iterdir()), "the worker left its work directory behind"


def test_worker_to_a_port_with_nothing_listening_exits_nonzero(tmp_path):
    done = run([WORKER, "127.0.0.1:{}".format(free_port()), "--server-timeout", "1000",
                "--workdir", str(tmp_path)], timeout=20)
    assert done.returncode != 0


def test_worker_to_an_unknown_host(tmp_path):
    done = run([WORKER, "no-such-host.invalid:9010", "--server-timeout", "1000", "--workdir", str(tmp_path)],
               timeout=60)
    assert "no answer from the server" in done.stderr


def test_worker_stops_on_sigterm_when_idle(tmp_path):
    import treadle
    with treadle.local_cluster(workers=0) as cluster:
        worker = cluster.add_worker(args=["--workdir", str(tmp_path)])
        cluster.wait_for_workers(1)
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(5) == 0
        assert not list(tmp_path.iterdir()), "the worker left its work directory behind"
