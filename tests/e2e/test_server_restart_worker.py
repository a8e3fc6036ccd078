"""A worker whose server was killed and restarted on the same port says so and joins the new
server: not "error: server: say hello first" per heartbeat in flight, nor that the server
declared it lost (the new server declared nothing; it never knew the worker)."""

import signal
import socket
import subprocess

import pytest

from tests.conftest import wait_until
from treadle.loom.client import Client


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port):
    server = subprocess.Popen(["treadle-server", "--port", str(port)], stdout=subprocess.PIPE, text=True)
    assert server.stdout.readline().startswith("listening"), "the server did not start"
    return server


def workers_listed(port):
    client = Client("127.0.0.1", port)
    try:
        return len(client.status()["workers"])
    finally:
        client.close()


@pytest.mark.timeout(90)
def test_a_worker_says_its_server_restarted(tmp_path):
    port = free_port()
    log = tmp_path / "worker.log"
    server = start_server(port)
    with open(log, "w") as err:
        worker = subprocess.Popen(["treadle-worker", "127.0.0.1:{}".format(port)], stderr=err)
    processes = [server, worker]
    try:
        wait_until(lambda: workers_listed(port) == 1, timeout=30, what="the worker joining")
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        server = start_server(port)
        processes.append(server)
        wait_until(lambda: workers_listed(port) == 1, timeout=30, what="the worker joining the new server")
        text = log.read_text()
        assert "the server at 127.0.0.1:{} restarted (it does not know this worker): joining again".format(port) in text, text
        assert "say hello first" not in text and "declared this worker lost" not in text, text
    finally:
        for p in processes:
            if p.poll() is None:
                p.terminate()
        for p in processes:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)
