"""Only peers that know the secret get in; nothing a peer sends stops the server serving.

The server of this module is started by hand, its stderr (the log) going to a file, so that
tests can see what it logged. Raw protocol messages are built with a tiny msgpack encoder
below (python3-msgpack is not among the project's packages) and sent with pyzmq.
"""

import json
import os
import re
import socket
import struct
import subprocess
import sys
import textwrap
import time

import cloudpickle
import psutil
import pytest

from tests.conftest import SECRET, assert_serving, wait_until
from treadle.core import paths as _paths
from treadle.loom.client import Client, tasks

zmq = pytest.importorskip("zmq")

# Functions of this module travel by value: the executors cannot import the test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


# ---------------------------------------------------------------------------------------------
# msgpack, just enough for protocol headers

def pack(obj):
    if obj is None:
        return b"\xc0"
    if obj is True:
        return b"\xc3"
    if obj is False:
        return b"\xc2"
    if isinstance(obj, float):
        return b"\xcb" + struct.pack(">d", obj)
    if isinstance(obj, int):
        if 0 <= obj < 128:
            return bytes([obj])
        if 0 <= obj < 1 << 64:
            return b"\xcf" + struct.pack(">Q", obj)
        return b"\xd3" + struct.pack(">q", obj)
    if isinstance(obj, str):
        b = obj.encode()
        return b"\xdb" + struct.pack(">I", len(b)) + b
    if isinstance(obj, bytes):
        return b"\xc6" + struct.pack(">I", len(obj)) + obj
    if isinstance(obj, (list, tuple)):
        return b"\xdd" + struct.pack(">I", len(obj)) + b"".join(pack(x) for x in obj)
    if isinstance(obj, dict):
        return b"\xdf" + struct.pack(">I", len(obj)) + b"".join(pack(k) + pack(v) for k, v in obj.items())
    raise TypeError(obj)


def unpack(data):
    return _unpack(bytes(data), 0)[0]


def _unpack(d, p):
    b = d[p]
    if b <= 0x7f:
        return b, p + 1
    if b >= 0xe0:
        return b - 0x100, p + 1
    if 0x80 <= b <= 0x8f:
        return _unpack_map(d, p + 1, b & 0x0f)
    if 0x90 <= b <= 0x9f:
        return _unpack_array(d, p + 1, b & 0x0f)
    if 0xa0 <= b <= 0xbf:
        n = b & 0x1f
        return d[p + 1:p + 1 + n].decode(), p + 1 + n
    if b in (0xc0, 0xc2, 0xc3):
        return {0xc0: None, 0xc2: False, 0xc3: True}[b], p + 1
    numbers = {0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q", 0xd0: ">b", 0xd1: ">h", 0xd2: ">i",
               0xd3: ">q", 0xca: ">f", 0xcb: ">d"}
    if b in numbers:
        return struct.unpack_from(numbers[b], d, p + 1)[0], p + 1 + struct.calcsize(numbers[b])
    lengths = {0xd9: ">B", 0xda: ">H", 0xdb: ">I", 0xc4: ">B", 0xc5: ">H", 0xc6: ">I"}
    if b in lengths:
        n = struct.unpack_from(lengths[b], d, p + 1)[0]
        start = p + 1 + struct.calcsize(lengths[b])
        raw = d[start:start + n]
        return (raw.decode() if b >= 0xd9 else raw), start + n
    if b in (0xdc, 0xdd, 0xde, 0xdf):
        fmt = ">H" if b in (0xdc, 0xde) else ">I"
        n = struct.unpack_from(fmt, d, p + 1)[0]
        start = p + 1 + struct.calcsize(fmt)
        return (_unpack_array if b in (0xdc, 0xdd) else _unpack_map)(d, start, n)
    raise ValueError("msgpack type byte 0x{:x} not supported here".format(b))


def _unpack_array(d, p, n):
    out = []
    for _ in range(n):
        v, p = _unpack(d, p)
        out.append(v)
    return out, p


def _unpack_map(d, p, n):
    out = {}
    for _ in range(n):
        k, p = _unpack(d, p)
        v, p = _unpack(d, p)
        out[k] = v
    return out, p


def test_msgpack_helper_round_trips():
    value = {"op": "x", "ids": [1, 2, 1 << 40], "neg": -3, "none": None, "yes": True, "b": b"\x00"}
    assert unpack(pack(value)) == value
    assert unpack(b"\x83\xa2op\xa5error\xa3req\x07\xa7message\xa3bad") == {"op": "error", "req": 7, "message": "bad"}


# ---------------------------------------------------------------------------------------------
# A cluster whose server log we can read

class LoggedCluster:
    def __init__(self, folder, worker_env=None):
        self.folder = folder
        self.log_path = folder / "server.log"
        self._log = open(self.log_path, "w")
        self.server = subprocess.Popen([_paths.program("treadle-server"), "--port", "0"],
                                       stdout=subprocess.PIPE, stderr=self._log, text=True)
        self.workers = []
        line = self.server.stdout.readline().split()
        assert line[:1] == ["listening"], "the server did not start"
        self.port = int(line[2])
        self.address = ("127.0.0.1", self.port)
        for _ in range(2):
            self.workers.append(self.start_worker(env=worker_env))
        self.client = Client(*self.address)
        wait_until(lambda: len(self.client.status()["workers"]) == 2, timeout=10, what="2 workers")

    def start_worker(self, *args, env=None, output=subprocess.DEVNULL):
        return subprocess.Popen([_paths.program("treadle-worker"), "127.0.0.1:{}".format(self.port),
                                 "--workdir", str(self.folder)] + list(args),
                                stdout=output, stderr=output, env=env)

    def log(self):
        return self.log_path.read_text()

    def close(self):
        self.client.close()
        procs = self.workers + [self.server]
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.server.stdout.close()
        self._log.close()


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    c = LoggedCluster(tmp_path_factory.mktemp("security"))
    yield c
    c.close()


@pytest.fixture
def served(logged):
    """The logged cluster; after the test, it must be whole and serving."""
    yield logged
    assert logged.server.poll() is None, "the server died"
    assert all(w.poll() is None for w in logged.workers), "a worker died"
    assert_serving(logged.client, workers=2)


def refusals(cluster):
    """Handshakes the server refused for a wrong secret: logged in full, or summed up (the log
    is rate-limited per address)."""
    log = cluster.log()
    summed = re.findall(r"(\d+) more refused handshakes from 127\.0\.0\.1 in the last", log)
    return log.count("refused a peer from 127.0.0.1: wrong secret") + sum(int(n) for n in summed)


# ---------------------------------------------------------------------------------------------
# Wrong secrets

WRONG_SECRET_CLIENT = textwrap.dedent("""
    import time
    from treadle.loom.client import Client, LoomException
    start = time.monotonic()
    try:
        Client("127.0.0.1", {port}, secret="wrong", timeout=2)
    except LoomException as e:
        print("refused after {{:.1f}} s: {{}}".format(time.monotonic() - start, e), flush=True)
    else:
        print("connected", flush=True)
""")


def test_client_with_a_wrong_secret_is_refused_and_logged(served):
    before = refusals(served)
    proc = subprocess.Popen([sys.executable, "-c", WRONG_SECRET_CLIENT.format(port=served.port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: refusals(served) > before, timeout=10, what="the server logging the refusal")
        assert served.client.status()["clients"] == 1  # only the fixture's own client
    finally:
        proc.kill()
        proc.wait()
        out = proc.stdout.read()
        proc.stdout.close()
    assert "connected" not in out


@pytest.mark.timeout(30)
def test_client_with_a_wrong_secret_gets_loom_exception_in_time(served):
    try:
        done = subprocess.run([sys.executable, "-c", WRONG_SECRET_CLIENT.format(port=served.port)],
                              capture_output=True, text=True, timeout=6)
    except subprocess.TimeoutExpired:
        pytest.fail("Client(secret='wrong', timeout=2) still hangs after 6 s")
    assert done.stdout.startswith("refused after"), done.stdout + done.stderr
    assert "secret" in done.stdout


def test_worker_with_a_wrong_secret_never_joins(served):
    before = refusals(served)
    env = dict(os.environ, TREADLE_SECRET="wrong")
    worker = served.start_worker("--server-timeout", "1500", env=env)
    try:
        wait_until(lambda: refusals(served) > before, timeout=10, what="the server logging the refusal")
        time.sleep(1.0)
        assert len(served.client.status()["workers"]) == 2
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.wait()


@pytest.mark.timeout(30)
def test_worker_with_a_wrong_secret_exits_with_an_error(served):
    env = dict(os.environ, TREADLE_SECRET="wrong")
    worker = served.start_worker("--server-timeout", "1500", env=env, output=subprocess.PIPE)
    try:
        try:
            # It says hello once its Python executors are ready (seconds on a loaded machine),
            # then gives up after 1.5 s of silence.
            _, err = worker.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail("the worker still runs 15 s after its server refused it (--server-timeout 1500)")
        assert worker.returncode != 0
        assert "server" in err.decode()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()


def test_worker_with_the_secret_in_a_file_joins(served, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    env = dict(os.environ, TREADLE_SECRET="wrong")  # --secret-file wins
    worker = served.start_worker("--secret-file", str(secret_file), env=env)
    try:
        wait_until(lambda: len(served.client.status()["workers"]) == 3, timeout=10, what="the worker joining")
    finally:
        worker.terminate()
        worker.wait(5)
    wait_until(lambda: len(served.client.status()["workers"]) == 2, timeout=10, what="the worker leaving")


def test_client_with_the_secret_from_a_file(served, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    env = dict(os.environ, TREADLE_SECRET_FILE=str(secret_file))
    env.pop("TREADLE_SECRET")
    done = subprocess.run([sys.executable, "-c", textwrap.dedent("""
        from treadle.loom.client import Client, tasks
        print(Client("127.0.0.1", {port}, timeout=5).submit_one(tasks.const("in")).gather())
    """).format(port=served.port)], capture_output=True, text=True, timeout=20, env=env)
    assert done.stdout == "b'in'\n", done.stderr


# ---------------------------------------------------------------------------------------------
# Garbage on the TCP ports

ZMTP_NULL_GREETING = (b"\xff" + b"\x00" * 8 + b"\x7f" + b"\x03\x00" + b"NULL".ljust(20, b"\x00")
                      + b"\x00" + b"\x00" * 31)


def send_raw(port, payloads, linger=0.2):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        for data in payloads:
            try:
                s.sendall(data)
            except OSError:
                break  # the peer hung up: fine
        time.sleep(linger)


def data_ports(cluster):
    return [int(w["address"].rsplit(":", 1)[1]) for w in cluster.client.status()["workers"]]


GARBAGE = [
    [os.urandom(4096)],
    [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"],
    [b"\xff" + b"\x00" * 8 + b"\x7f" + os.urandom(200)],  # a ZMTP signature, then noise
    [ZMTP_NULL_GREETING, b"\x04\x19\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER"],  # no credentials
    [b"\x00" * (1 << 20)],
    [b""],
]


@pytest.mark.parametrize("payloads", GARBAGE, ids=["random", "http", "zmtp-noise", "zmtp-null", "zeros-1MB", "empty"])
def test_garbage_to_the_server_port(served, payloads):
    send_raw(served.port, payloads)
    assert_serving(served.client, workers=2)


@pytest.mark.parametrize("payloads", GARBAGE, ids=["random", "http", "zmtp-noise", "zmtp-null", "zeros-1MB", "empty"])
def test_garbage_to_a_worker_data_port(served, payloads):
    for port in data_ports(served):
        send_raw(port, payloads)
    # work that moves data between the workers
    parts = [tasks.const("{}.".format(i)) for i in range(300)]
    halves = [tasks.merge(parts[:150]), tasks.merge(parts[150:])]
    assert served.client.submit_one(tasks.merge(halves)).gather() == "".join(
        "{}.".format(i) for i in range(300)).encode()


def test_many_silent_connections(served):
    sockets = [socket.create_connection(("127.0.0.1", served.port), timeout=5) for _ in range(50)]
    try:
        assert_serving(served.client, workers=2)
    finally:
        for s in sockets:
            s.close()


# ---------------------------------------------------------------------------------------------
# Authenticated peers that send malformed messages

@pytest.fixture
def raw_peer():
    context = zmq.Context()
    sockets = []

    def connect(port, secret=SECRET):
        s = context.socket(zmq.DEALER)
        s.plain_username = b"treadle"
        s.plain_password = secret.encode()
        s.linger = 0
        s.connect("tcp://127.0.0.1:{}".format(port))
        sockets.append(s)
        return s

    yield connect
    for s in sockets:
        s.close(0)
    context.term()


def ask(sock, *frames, timeout_ms=2000):
    """Sends one multipart message; returns the decoded header of the reply, or None."""
    sock.send_multipart(list(frames))
    if not sock.poll(timeout_ms):
        return None
    reply = sock.recv_multipart()
    return unpack(reply[0])


def error_of(sock, header, *frames):
    reply = ask(sock, pack(header), *frames)
    assert reply is not None, "no reply to {}".format(header)
    assert reply["op"] == "error", reply
    assert reply.get("req") == header.get("req")
    return reply["message"]


def test_raw_peer_with_the_secret_says_hello(served, raw_peer):
    s = raw_peer(served.port)
    reply = ask(s, pack({"op": "hello", "role": "client", "name": "raw", "req": 1}))
    assert reply["op"] == "welcome" and reply["req"] == 1
    status = ask(s, pack({"op": "status", "req": 2}))
    assert status["op"] == "status_reply" and len(status["workers"]) == 2


def test_raw_peer_with_a_wrong_secret_gets_nothing(served, raw_peer):
    s = raw_peer(served.port, secret="wrong")
    s.send(pack({"op": "hello", "role": "client", "name": "raw", "req": 1}), zmq.NOBLOCK)
    assert not s.poll(1500)


MALFORMED = [
    ({"op": "wait", "req": 3}, (), "wait"),
    ({"op": "wait", "req": 4, "ids": "x"}, (), "wait"),
    ({"op": "fetch", "req": 5, "ids": [123456789]}, (), "123456789"),
    ({"op": "fetch", "req": 6, "ids": [-1]}, (), ""),
    ({"op": "submit", "req": 7}, (), "submit"),
    ({"op": "submit", "req": 8, "types": ["loom/data/const"], "labels": []}, (b"\x01\x02\x03",) * 8, "malformed"),
    ({"op": "submit", "req": 9, "types": "loom/data/const", "labels": []}, (b"",) * 8, "submit"),
    # one task whose input index points at itself: a cycle
    ({"op": "submit", "req": 10, "types": ["loom/data/merge"], "labels": []},
     (struct.pack("<I", 0), struct.pack("<I", 0), struct.pack("<I", 1), struct.pack("<Q", (1 << 63) | 0),
      struct.pack("<QQ", 0, 0), b"", b"", struct.pack("<I", 0)), "cycle"),
    # config offsets beyond the configs
    ({"op": "submit", "req": 11, "types": ["loom/data/const"], "labels": []},
     (struct.pack("<I", 0), struct.pack("<I", 0), struct.pack("<I", 0), b"",
      struct.pack("<QQ", 0, 1000), b"abc", b"", struct.pack("<I", 0)), "config"),
    # an input that does not exist
    ({"op": "submit", "req": 12, "types": ["loom/data/merge"], "labels": []},
     (struct.pack("<I", 0), struct.pack("<I", 0), struct.pack("<I", 1), struct.pack("<Q", 10 ** 12),
      struct.pack("<QQ", 0, 0), b"", b"", struct.pack("<I", 0)), "does not exist"),
    # an unknown type
    ({"op": "submit", "req": 13, "types": ["evil/type"], "labels": []},
     (struct.pack("<I", 0), struct.pack("<I", 0), struct.pack("<I", 0), b"",
      struct.pack("<QQ", 0, 0), b"", b"", struct.pack("<I", 0)), "evil/type"),
    ({"op": "frobnicate", "req": 14}, (), "frobnicate"),
    ({"op": "hello", "role": "client", "req": 15}, (), "hello"),  # a second hello
    ({"op": "finished", "req": 16}, (), "finished"),  # a worker's message from a client
    ({"op": "story", "req": 17, "ids": [123456789]}, (), "123456789 does not exist"),
    ({"op": "story", "req": 18}, (), "ids"),
]


def test_malformed_messages_get_error_replies(served, raw_peer):
    s = raw_peer(served.port)
    # before hello
    assert "hello" in error_of(s, {"op": "status", "req": 1})
    assert ask(s, pack({"op": "hello", "role": "client", "name": "raw", "req": 2}))["op"] == "welcome"
    for header, frames, expected in MALFORMED:
        message = error_of(s, header, *frames)
        assert expected in message, (header, message)
    # the peer itself is still served
    assert ask(s, pack({"op": "status", "req": 99}))["op"] == "status_reply"


def test_undecodable_headers_are_dropped(served, raw_peer):
    s = raw_peer(served.port)
    assert ask(s, pack({"op": "hello", "role": "client", "name": "raw", "req": 1}))["op"] == "welcome"
    for frames in ([b"not msgpack at all"], [pack([1, 2, 3])], [pack({"op": 5, "req": 2})], [pack({"req": 3})],
                   [b"\xdf\xff\xff\xff\xff"], [b""], [b"\xc1"]):
        ask(s, *frames, timeout_ms=200)  # no reply is expected: there is no request to answer
    assert ask(s, pack({"op": "status", "req": 9}))["op"] == "status_reply"


def test_malformed_worker_messages(served, raw_peer):
    # a peer that joins as a worker and then sends nonsense; the real workers keep working
    s = raw_peer(served.port)
    assert "hello" in error_of(s, {"op": "hello", "role": "worker", "req": 1})  # fields missing
    assert "role" in error_of(s, {"op": "hello", "role": "admin", "req": 2})
    hello = {"op": "hello", "role": "worker", "name": "fake", "cpus": 1, "req": 3,
             "data_address": "tcp://127.0.0.1:1", "types": []}
    assert ask(s, pack(hello))["op"] == "welcome"
    error_of(s, {"op": "finished", "req": 4})
    error_of(s, {"op": "finished", "req": 5}, *([b"\x01\x02\x03"] * 7))
    error_of(s, {"op": "task_failed", "req": 6})
    ask(s, pack({"op": "task_failed", "id": 10 ** 9, "message": "x"}), timeout_ms=200)  # unknown task
    # a Python task's packed exception must be binary
    assert "exception" in error_of(s, {"op": "task_failed", "req": 7, "id": 10 ** 9, "message": "x", "exception": "text"})
    ask(s, pack({"op": "task_failed", "id": 10 ** 9, "message": "x", "exception": b"\x80junk"}), timeout_ms=200)
    ask(s, pack({"op": "data", "req": 10 ** 9, "objects": []}), timeout_ms=200)  # unknown upload
    # the fake worker offers no type, so it gets no work
    assert_serving(served.client, workers=3)
    s.close(0)
    # and, silent, it is dropped after the worker timeout
    wait_until(lambda: len(served.client.status()["workers"]) == 2, timeout=10, what="the fake worker dropped")


def test_malformed_requests_to_a_worker_data_port(served, raw_peer):
    for port in data_ports(served):
        s = raw_peer(port)
        reply = ask(s, pack({"op": "peer_fetch", "req": 1, "ids": [10 ** 12]}))
        assert reply["op"] == "data" and reply["objects"][0].get("missing") is True
        for frames in ([b"garbage"], [pack({"op": "peer_fetch", "req": 2})],
                       [pack({"op": "peer_fetch", "req": 3, "ids": "x"})], [pack({"op": "other", "req": 4})]):
            ask(s, *frames, timeout_ms=200)
        # still answering
        assert ask(s, pack({"op": "peer_fetch", "req": 5, "ids": [10 ** 12]}))["op"] == "data"


@pytest.mark.timeout(90)
def test_a_flood_of_malformed_messages_is_summarised_in_the_log(served, raw_peer):
    # One WARN line per malformed message let any peer fill the disk with the log; now each
    # peer's first few per interval are written and the rest counted in one summary line.
    s = raw_peer(served.port)
    assert ask(s, pack({"op": "hello", "role": "client", "name": "flood", "req": 1}))["op"] == "welcome"
    start = len(served.log())
    count = 10000
    for i in range(count // 2):
        s.send(b"not msgpack at all")  # dropped: no request to answer
        s.send(pack({"op": "wait", "req": 10 + i}))  # no ids: answered with an error
    replies = 0
    while replies < count // 2:
        assert s.poll(10000), "the server stopped answering after {} errors".format(replies)
        assert unpack(s.recv_multipart()[0])["op"] == "error"
        replies += 1

    def accounted():
        lines = [l for l in served.log()[start:].splitlines() if "client flood" in l]
        written = [l for l in lines if " more malformed messages from " not in l]
        summed = [int(m) for m in re.findall(r"(\d+) more malformed messages from client flood in the last", "\n".join(lines))]
        return (len(written) + sum(summed) == count) and lines

    def new_lines():
        return served.log()[start:].splitlines()

    wait_until(lambda: accounted() or len(new_lines()) >= 50, timeout=30,
               what="every malformed message written or counted in a summary")
    assert len(new_lines()) < 50, "{} log lines for {} malformed messages".format(len(new_lines()), count)
    assert accounted()
    assert ask(s, pack({"op": "status", "req": 99}))["op"] == "status_reply"


# ---------------------------------------------------------------------------------------------
# The secret stays out of what tasks can see

@tasks.py_task()
def environment_of_a_python_task():
    import json
    import os
    with open("/proc/{}/environ".format(os.getppid()), "rb") as f:  # its worker's
        worker = f.read().decode(errors="replace")
    return json.dumps({"environ": dict(os.environ), "worker": worker}).encode()


SHOW_ENVIRONMENT = ("/bin/sh", "-c", "env; tr '\\0' '\\n' < /proc/self/environ")


def assert_secret_hidden_from_tasks(client, worker_pids, secret):
    results = client.submit([environment_of_a_python_task() for _ in range(4)]
                            + [tasks.run(SHOW_ENVIRONMENT) for _ in range(4)])
    seen = [r.gather().decode(errors="replace") for r in results]
    for text in seen:
        assert secret not in text, "a task saw the secret"
    for python in seen[:4]:
        environ = json.loads(python)["environ"]
        assert "PATH" in environ and not [name for name in environ if name.startswith("TREADLE_SECRET")]
    for program in seen[4:]:
        assert "PATH=" in program and "TREADLE_SECRET" not in program
    executors = [c for pid in worker_pids for c in psutil.Process(pid).children()
                 if "treadle.executor" in " ".join(c.cmdline())]
    assert executors, "no executor ran"
    for pid in list(worker_pids) + [e.pid for e in executors]:
        with open("/proc/{}/environ".format(pid), "rb") as f:
            assert secret.encode() not in f.read(), "process {} has the secret in its environment".format(pid)


def test_tasks_never_see_the_secret(served):
    # The workers were given the secret in $TREADLE_SECRET.
    assert_secret_hidden_from_tasks(served.client, [w.pid for w in served.workers], SECRET)


def test_tasks_never_see_the_secret_file_variable(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    env = dict(os.environ, TREADLE_SECRET_FILE=str(secret_file))
    env.pop("TREADLE_SECRET")
    cluster = LoggedCluster(tmp_path, worker_env=env)
    try:
        assert_secret_hidden_from_tasks(cluster.client, [w.pid for w in cluster.workers], str(secret_file))
    finally:
        cluster.close()


# ---------------------------------------------------------------------------------------------
# Every field of every message is checked: a wrong type or a value out of range is refused with
# an error naming the field, and the server goes on serving (docs/protocol.md)

def three_frames_submit(cpus=0):
    """The 8 columns of a plan of one const task asking for `cpus`."""
    return (struct.pack("<I", 0), struct.pack("<I", cpus), struct.pack("<I", 0), b"",
            struct.pack("<QQ", 0, 1), b"x", b"", struct.pack("<I", 0))


CLIENT_HELLO = {"op": "hello", "role": "client", "name": "checked", "req": 1}
WORKER_HELLO = {"op": "hello", "role": "worker", "name": "checked", "cpus": 1, "req": 1,
                "data_address": "tcp://127.0.0.1:1", "types": []}

# (hello this peer says first, or None: the message itself is the hello; message; frames; what the error names)
BAD_FIELDS = [
    (None, dict(CLIENT_HELLO, name=5), (), "'name'"),
    (None, dict(CLIENT_HELLO, name="two\nlines"), (), "'name'"),
    (None, dict(CLIENT_HELLO, role=7), (), "'role'"),
    (None, dict(CLIENT_HELLO, req="one"), (), "'req'"),
    (None, dict(WORKER_HELLO, cpus=-1), (), "'cpus'"),
    (None, dict(WORKER_HELLO, cpus=0), (), "'cpus'"),
    (None, dict(WORKER_HELLO, cpus=1 << 40), (), "'cpus'"),
    (None, dict(WORKER_HELLO, cpus="2"), (), "'cpus'"),
    (None, dict(WORKER_HELLO, data_address="nowhere"), (), "'data_address'"),
    (None, dict(WORKER_HELLO, data_address="tcp://127.0.0.1:99999"), (), "'data_address'"),
    (None, dict(WORKER_HELLO, data_address=5), (), "'data_address'"),
    (None, dict(WORKER_HELLO, types="loom/data/const"), (), "'types'"),
    (None, dict(WORKER_HELLO, types=[""]), (), "'types'"),
    (None, dict(WORKER_HELLO, types=[3]), (), "'types'"),
    (CLIENT_HELLO, {"op": "status", "req": -1}, (), "'req'"),
    (CLIENT_HELLO, {"op": "wait", "req": 2, "ids": [-1]}, (), "'ids'"),
    (CLIENT_HELLO, {"op": "wait", "ids": [1]}, (), "'req'"),
    (CLIENT_HELLO, {"op": "fetch", "req": 2, "ids": [1.5]}, (), "'ids'"),
    (CLIENT_HELLO, {"op": "fetch", "req": 2, "ids": {"a": 1}}, (), "'ids'"),
    (CLIENT_HELLO, {"op": "release", "ids": "x"}, (), "'ids'"),
    (CLIENT_HELLO, {"op": "watch", "ids": [-3]}, (), "'ids'"),
    (CLIENT_HELLO, {"op": "states", "req": 2, "ids": "x"}, (), "'ids'"),
    (CLIENT_HELLO, {"op": "story", "req": 2, "ids": "x"}, (), "'ids'"),
    (CLIENT_HELLO, {"op": "story", "req": 2, "ids": [-1]}, (), "'ids'"),
    (CLIENT_HELLO, {"op": "story", "req": 2, "ids": [0.5]}, (), "'ids'"),
    (CLIENT_HELLO, {"op": "story", "req": 2, "ids": list(range(1001))}, (), "'ids'"),
    (CLIENT_HELLO, {"op": "trace", "req": 2, "limit": -1}, (), "'limit'"),
    (CLIENT_HELLO, {"op": "trace", "req": 2, "path": 5}, (), "'path'"),
    (CLIENT_HELLO, {"op": "trace", "req": 2, "kinds": "task"}, (), "'kinds'"),
    (CLIENT_HELLO, {"op": "submit", "req": 2, "types": [5], "labels": []}, three_frames_submit(), "'types'"),
    (CLIENT_HELLO, {"op": "submit", "req": 2, "types": ["loom/data/const"], "labels": "x"}, three_frames_submit(), "'labels'"),
    (CLIENT_HELLO, {"op": "submit", "req": 2, "types": ["loom/data/const"], "labels": []},
     three_frames_submit(cpus=1 << 31), "cpus"),
    (WORKER_HELLO, {"op": "hb", "cpu": "x"}, (), "'cpu'"),
    (WORKER_HELLO, {"op": "hb", "cpu": -5.0}, (), "'cpu'"),
    (WORKER_HELLO, {"op": "hb", "cpu": 1.0, "rss": -1}, (), "'rss'"),
    (WORKER_HELLO, {"op": "hb", "cpu": 1.0, "t": "now"}, (), "'t'"),
    (WORKER_HELLO, {"op": "finished", "transfer_peers": "x"}, (b"",) * 12, "finished"),
    (WORKER_HELLO, {"op": "task_failed", "id": -1, "message": "x"}, (), "'id'"),
    (WORKER_HELLO, {"op": "task_failed", "id": 1, "message": 5}, (), "'message'"),
    (WORKER_HELLO, {"op": "data", "req": "x", "objects": []}, (), "'req'"),
    (WORKER_HELLO, {"op": "data", "req": 1, "objects": "x"}, (), "'objects'"),
    (WORKER_HELLO, {"op": "output", "items": "x"}, (), "'items'"),
    (WORKER_HELLO, {"op": "output", "items": [{"id": -1, "stream": "stdout", "text": b"x"}]}, (), "'id'"),
    (WORKER_HELLO, {"op": "output", "items": [{"id": 1, "stream": "stdout", "text": 5}]}, (), "'text'"),
    (WORKER_HELLO, {"op": "output", "items": [7]}, (), "'items'"),
    (WORKER_HELLO, {"op": "redirect", "id": "x", "types": [], "labels": []}, (b"",) * 8, "'id'"),
]


def error_reply(sock, header, *frames):
    """The `error` answering this message (heartbeats are answered with `hb` first)."""
    sock.send_multipart([pack(header)] + list(frames))
    while True:
        assert sock.poll(3000), "no reply to {}".format(header)
        reply = unpack(sock.recv_multipart()[0])
        if reply["op"] != "hb":
            return reply


@pytest.mark.parametrize("hello, header, frames, names", BAD_FIELDS,
                         ids=["{}-{}".format(i, case[1]["op"]) for i, case in enumerate(BAD_FIELDS)])
def test_bad_fields_are_refused_by_name(served, raw_peer, hello, header, frames, names):
    s = raw_peer(served.port)
    if hello is not None:
        assert ask(s, pack(hello))["op"] == "welcome"
    reply = error_reply(s, header, *frames)
    assert reply["op"] == "error", "accepted: {} -> {}".format(header, reply)
    assert names in reply["message"], reply["message"]
    expected_req = header.get("req") if isinstance(header.get("req"), int) and header["req"] >= 0 else None
    assert reply.get("req") == expected_req
    if hello is None:  # refused: not a peer
        assert "hello" in error_of(s, {"op": "status", "req": 5})
    elif hello["role"] == "client":  # still served
        assert ask(s, pack({"op": "status", "req": 5}))["op"] == "status_reply"
    else:
        assert ask(s, pack({"op": "hb"}))["op"] == "hb"
        s.send(pack({"op": "bye"}))
        wait_until(lambda: len(served.client.status()["workers"]) == 2, what="the fake worker gone")


@pytest.fixture
def fake_server():
    """A ROUTER socket that takes the secret, for a real worker to join: the test plays the server."""
    from zmq.auth.thread import ThreadAuthenticator
    context = zmq.Context()
    auth = ThreadAuthenticator(context)
    auth.start()
    auth.configure_plain(domain="*", passwords={"treadle": SECRET})
    router = context.socket(zmq.ROUTER)
    router.plain_server = True
    router.linger = 0
    port = router.bind_to_random_port("tcp://127.0.0.1")
    yield router, port
    router.close(0)
    auth.stop()
    context.term()


def next_from_worker(router, op, timeout_ms=5000):
    """The next message of `op` from the worker (heartbeats and others are skipped)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        if router.poll(100):
            frames = router.recv_multipart()
            header = unpack(frames[1])
            if header["op"] == op:
                return frames[0], header
    return None, None


def test_a_worker_refuses_bad_fields_from_its_server(fake_server, tmp_path):
    router, port = fake_server
    log_path = tmp_path / "worker.log"
    with open(log_path, "w") as log:
        worker = subprocess.Popen([_paths.program("treadle-worker"), "127.0.0.1:{}".format(port), "--workdir",
                                   str(tmp_path), "--server-timeout", "20000"], stdout=log, stderr=log)
    try:
        routing, hello = next_from_worker(router, "hello")
        assert hello and hello["cpus"] == 1
        router.send_multipart([routing, pack({"op": "welcome", "id": 0})])
        bad = [({"op": "free", "ids": "x"}, "field 'ids'"),
               ({"op": "cancel", "ids": [-1]}, "field 'ids'"),
               ({"op": "alias", "pairs": [[1]]}, "field 'pairs'"),
               ({"op": "upload", "req": "x", "ids": [1]}, "field 'req'"),
               ({"op": "upload", "req": 2, "ids": [-2]}, "field 'ids'")]
        for header, _ in bad:
            router.send_multipart([routing, pack(header)])
        # still serving its server: a good upload is answered
        router.send_multipart([routing, pack({"op": "upload", "req": 7, "ids": [123]})])
        _, data = next_from_worker(router, "data")
        assert data and data["req"] == 7, "the worker no longer answers (or answered a bad upload)"
        assert worker.poll() is None
        wait_until(lambda: log_path.read_text().count("bad message from the server") == len(bad),
                   what="the worker logging each bad message")
        lines = [l for l in log_path.read_text().splitlines() if "bad message from the server" in l]
        for line, (header, expected) in zip(lines, bad):
            assert expected in line, (header, line)
    finally:
        worker.terminate()
        worker.wait(10)
