"""A client's waits on its server end for the right reasons and say what they wait for.

- A server that starts after its client (``treadle-server &`` beside the client, a batch job's
  slower server node) is waited for: the client tries again while the connection is refused,
  says so after a second, and connects once the server listens (within its connect timeout).
- Something that accepts the connection but never answers as a treadle server (another program
  on the port, a stopped server) is named in the error; the wait shows a line and ends at Ctrl-C.
- A server that is silent with its connection open (busy with a big plan on a loaded machine;
  here stopped, which is "slow" on demand) is alive: the client, and the workers, wait for it,
  and the submit goes through once it answers. Only a closed connection and silence mean lost.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading

import pytest

import treadle
from tests.conftest import wait_until
from tests.e2e.test_future_reprs import stopped


class Script:
    """A client script in a process of its own, its stdout and stderr read as lines arrive."""

    def __init__(self, code, **env):
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=dict(os.environ, **env))
        self.out, self.err = [], []
        self._readers = [threading.Thread(target=self._read, args=(stream, lines), daemon=True)
                         for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream, lines):
        for line in stream:
            lines.append(line)

    def said(self, text, stream="err"):
        return any(text in line for line in (self.err if stream == "err" else self.out))

    def wait_for(self, text, stream="err", timeout=60):
        wait_until(lambda: self.said(text, stream) or self.proc.poll() is not None, timeout=timeout,
                   what="the client saying {!r}".format(text))
        for reader in self._readers:   # it exited: what it wrote is all read
            if self.proc.poll() is not None:
                reader.join(5)
        assert self.said(text, stream), self.text()

    def finish(self, timeout=120):
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            for reader in self._readers:
                reader.join(5)
        return self.proc.returncode

    def text(self):
        return "stdout:\n" + "".join(self.out) + "stderr:\n" + "".join(self.err)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Healthy tasks on 2 workers and a failing one among them: what every client below computes.
COMPUTE = """
from treadle.loom.client import TaskFailed, tasks
healthy = [tasks.merge([tasks.const("x") for _ in range({width})]) for _ in range({groups})]
failing = tasks.run(("/bin/sh", "-c", "echo the reason >&2; exit 3"))
futures = client.submit(healthy + [failing])
print("submitted", len(futures), flush=True)
values = [f.gather() for f in futures[:-1]]
print("healthy", sum(v == b"x" * {width} for v in values), "of", len(values), flush=True)
try:
    futures[-1].gather()
except TaskFailed as e:
    print("failing:", str(e).splitlines()[0], flush=True)
print("workers", len(client.status()["workers"]), flush=True)
"""

LATE_SERVER_CLIENT = """
import time
from treadle.loom.client import Client
client = Client("127.0.0.1", {port}, timeout=120)
while len(client.status()["workers"]) < 2:   # the server came first; its workers join now
    time.sleep(0.02)
""" + COMPUTE


@pytest.mark.timeout(120)
def test_a_client_started_before_its_server_connects_once_it_listens(tmp_path):
    """Before: refused after 1 s ("no treadle server"), however soon the server would come."""
    port = free_port()
    script = Script(LATE_SERVER_CLIENT.format(port=port, width=10, groups=20))
    cluster = None
    try:
        script.wait_for("treadle: waiting for the server at 127.0.0.1:{} ...".format(port))
        assert script.proc.poll() is None, script.text()   # still trying: the server comes now
        cluster = treadle.local_cluster(workers=2, cpus=1, port=port, worker_args=["--workdir", str(tmp_path)])
        assert script.finish() == 0, script.text()
    finally:
        script.finish(5) if script.proc.poll() is None else None
        if cluster is not None:
            cluster.close()
    out = "".join(script.out)
    assert "healthy 20 of 20" in out and "failing: " in out and "workers 2" in out, script.text()
    assert sum("waiting for the server" in line for line in script.err) == 1, script.text()   # one line


SILENT_CLIENT = """
from treadle.loom.client import Client, LoomException
try:
    Client("127.0.0.1", {port}, timeout={timeout})
except LoomException as e:
    print("error:", e, flush=True)
"""


@contextlib.contextmanager
def silent(kind):
    """A port that accepts connections and never answers: a plain TCP listener ("another
    program"), a ZeroMQ socket without treadle's security, or a treadle server stopped with
    SIGSTOP; or one where nothing listens."""
    if kind == "nothing listening":
        yield free_port()
    elif kind == "another program":
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            yield listener.getsockname()[1]
    elif kind == "another ZeroMQ program":   # a Jupyter kernel's port, say: no treadle handshake
        import zmq
        context = zmq.Context()
        router = context.socket(zmq.ROUTER)
        try:
            yield router.bind_to_random_port("tcp://127.0.0.1")
        finally:
            router.close(0)
            context.term()
    else:
        with treadle.local_cluster(workers=0) as cluster:
            cluster.server.send_signal(signal.SIGSTOP)
            try:
                wait_until(lambda: stopped(cluster.server.pid), what="the server stopped")
                yield cluster.port
            finally:
                cluster.server.send_signal(signal.SIGCONT)


@pytest.fixture(params=["another program", "another ZeroMQ program", "a stopped server"])
def silent_port(request):
    with silent(request.param) as port:
        yield port


@pytest.mark.timeout(60)
def test_a_port_that_accepts_and_never_answers_is_named_in_the_error(silent_port, request):
    """Before: "no treadle server answered at ... (is it running there ...)", as if nothing were there."""
    script = Script(SILENT_CLIENT.format(port=silent_port, timeout=3))
    assert script.finish(60) == 0, script.text()
    out = "".join(script.out)
    assert ("error: 127.0.0.1:{} accepted the connection but did not answer as a treadle server within 3 s"
            .format(silent_port)) in out, script.text()
    if request.node.callspec.params["silent_port"] == "another ZeroMQ program":
        assert "its ZeroMQ handshake failed" in out, script.text()
    assert script.said("treadle: waiting for the server at 127.0.0.1:{} ...".format(silent_port)), script.text()


@pytest.fixture(params=["nothing listening", "another program", "a stopped server"])
def port_to_wait_on(request):
    with silent(request.param) as port:
        yield port


@pytest.mark.timeout(60)
def test_ctrl_c_ends_a_long_wait_for_the_server(port_to_wait_on):
    """A client told to wait 300 s shows its wait, and Ctrl-C (SIGINT) ends it at once, also
    while the connection is refused (before: refused after 1 s, no wait at all)."""
    script = Script(SILENT_CLIENT.format(port=port_to_wait_on, timeout=300))
    script.wait_for("treadle: waiting for the server at 127.0.0.1:{} ... (up to 300 s".format(port_to_wait_on))
    assert script.proc.poll() is None, script.text()
    script.proc.send_signal(signal.SIGINT)
    script.finish(30)   # far below the 300 s it was told to wait
    assert script.said("KeyboardInterrupt"), script.text()
    assert not script.said("error:", "out"), script.text()


BIG_SUBMIT_CLIENT = """
import sys
from treadle.loom.client import Client
client = Client("127.0.0.1", {port})
print("ready", flush=True)
sys.stdin.readline()
""" + COMPUTE


@pytest.mark.timeout(180)
def test_a_big_submit_to_a_server_stopped_past_the_old_timeout_goes_through(make_cluster):
    """The server stops (SIGSTOP: a server too busy or too starved to answer, on demand) while a
    client submits a plan of 200,000 tasks, and stays stopped until the client has waited longer
    than the 12 s after which it used to give up ("lost the connection"), and the workers longer
    than their 10 s (they exited). Resumed, the submit is acknowledged and everything computes."""
    cluster = make_cluster(workers=2, cpus=1)
    script = Script(BIG_SUBMIT_CLIENT.format(port=cluster.port, width=2000, groups=100))
    script.wait_for("ready", stream="out")
    cluster.server.send_signal(signal.SIGSTOP)
    try:
        wait_until(lambda: stopped(cluster.server.pid), what="the server stopped")
        script.proc.stdin.write("go\n")
        script.proc.stdin.flush()
        script.wait_for("treadle: the server at 127.0.0.1:{} has not answered for 12 s".format(cluster.port))
    finally:
        cluster.server.send_signal(signal.SIGCONT)
    assert script.finish() == 0, script.text()
    out = "".join(script.out)
    assert "submitted 101" in out and "healthy 100 of 100" in out, script.text()
    assert "failing: " in out and "Program terminated with status 3" in out, script.text()
    assert "workers 2" in out, script.text()
    assert script.said("treadle: the server at 127.0.0.1:{} answered again".format(cluster.port)), script.text()
    assert all(w.poll() is None for w in cluster.workers), "a worker exited while the server was stopped"
