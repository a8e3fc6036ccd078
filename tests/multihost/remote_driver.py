"""Runs inside network namespace A for test_ssh_workers.py: starts workers on host B over ssh
with treadle.remote, runs tasks on them and reports what it saw as ``EVENT {json}`` lines.

    ip netns exec A /usr/bin/python3 remote_driver.py '{"scenario": ..., ...}'

Scenarios: ``run`` (start, run tasks, wait for "stop" on stdin, stop), ``hold`` (start, then
wait forever: the test kills this process or its ssh), ``errors`` (failures that must name the
host), ``private`` (a known payload to B and back, then peers without the key knocking).
"""

import json
import os
import subprocess
import sys
import time

import treadle
from treadle.loom.client import Client as LoomClient
from treadle.loom.client import tasks
from treadle.remote import RemoteWorkerError, parse_hostfile, start_remote_workers


def emit(event, **data):
    sys.stdout.write("EVENT " + json.dumps(dict(data, event=event)) + "\n")
    sys.stdout.flush()


# -- tasks (defined in __main__: they travel by value) -------------------------------------------

def where_am_i(i):
    time.sleep(0.05)   # keep both workers busy
    ip = "/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else "ip"
    addresses = subprocess.run([ip, "-o", "-4", "addr", "show"], capture_output=True, text=True).stdout
    return {"i": i, "netns": os.readlink("/proc/self/ns/net"), "addresses": addresses,
            "worker_pid": os.getppid(), "hostname": __import__("socket").gethostname()}


def make_blob(n):
    return os.urandom(n)


def digest(blob):
    import hashlib
    return hashlib.sha256(blob).hexdigest()


def ssh_args(config, key=None):
    return ["-i", key or config["key"], "-p", str(config.get("ssh_port", 22)),
            "-o", "UserKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=no", "-o", "LogLevel=ERROR"]


def start(config, **kwargs):
    server = (config["server_host"], config["server_port"])
    hosts = parse_hostfile(config["hostfile"])
    t = time.monotonic()
    remote = start_remote_workers(server, hosts, cpus=1, ssh_args=ssh_args(config), **kwargs)
    emit("started", seconds=time.monotonic() - t, describe=remote.describe(),
         ssh_pids=[p.pid for p in remote.processes], hosts=remote.hosts)
    return remote


def run(config):
    remote = start(config)
    server = (config["server_host"], config["server_port"])
    client = treadle.Client(server)
    located = client.gather([client.submit(where_am_i, i) for i in range(12)])
    blob = client.submit(make_blob, 1 << 20)
    remote_digest = client.submit(digest, blob)          # input moves between workers in B, or not
    results = {"located": located, "digest_matches": remote_digest.result() == digest(blob.result())}
    workers = client.status()["workers"]
    client.close()

    loom = LoomClient(*server)
    data = os.urandom(2 << 20)                           # 2 MB to B and back over the veth
    results["const_roundtrip"] = loom.submit_one(tasks.const(data)).gather() == data
    merged = loom.submit_one(tasks.merge([tasks.const("ran-"), tasks.const("in-"), tasks.const("B")], "|")).gather()
    results["merge"] = merged.decode()
    results["workers"] = workers
    loom.close()
    emit("results", **results)

    line = sys.stdin.readline()                          # the test looks at namespace B meanwhile
    assert line.strip() == "stop", line
    t = time.monotonic()
    remote.stop()
    emit("stopped", seconds=time.monotonic() - t, codes=[p.returncode for p in remote.processes],
         describe=remote.describe())


def wildcard(config):
    # The server listens on all addresses of A: each host is told the address that routes to it.
    remote = start_remote_workers(("0.0.0.0", config["server_port"]), [(config["host"], 1)],
                                  ssh_args=ssh_args(config))
    client = treadle.Client(("127.0.0.1", config["server_port"]))
    netns = client.submit(where_am_i, 0).result()["netns"]
    workers = client.status()["workers"]
    client.close()
    remote.stop()
    emit("wildcard", describe=remote.describe(), netns=netns, workers=workers)


def echo(text):
    return "echoed: " + text


def private(config):
    # A known payload travels to the workers in B and back, between tasks too; then peers that
    # lack the key try the server: PLAIN with the right secret (the mechanism loopback uses),
    # and CURVE with a key of their own.
    remote = start(config)
    server = (config["server_host"], config["server_port"])
    client = treadle.Client(server)
    payload = config["payload"]
    first = client.submit(echo, payload)
    results = {"echo": client.submit(echo, first).result()}
    loom = LoomClient(*server)
    results["loom"] = loom.submit_one(tasks.merge([tasks.const(payload), tasks.const("!")])).gather().decode()
    loom.close()
    client.close()
    results["plain_with_secret"] = knock(server, "plain")
    results["curve_other_key"] = knock(server, "curve-other")
    results["curve_secret_key"] = knock(server, "curve")
    remote.stop()
    emit("private", **results)


def knock(server, how):
    """Says hello to the server with raw ZeroMQ; returns the reply's op, or None if refused."""
    import hashlib
    import zmq
    import zmq.utils.z85
    secret = os.environ["TREADLE_SECRET"].encode()
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    if how == "plain":
        s.plain_username, s.plain_password = b"treadle", secret
    else:
        def key(purpose):   # as engine/common/curve.cpp derives them: BLAKE2b-256 keyed by purpose
            return zmq.utils.z85.encode(hashlib.blake2b(secret, digest_size=32, key=purpose).digest())
        s.curve_serverkey = zmq.curve_public(key(b"treadle curve listener v1"))
        if how == "curve":
            own = key(b"treadle curve peer v1")
            s.curve_secretkey, s.curve_publickey = own, zmq.curve_public(own)
        else:
            s.curve_publickey, s.curve_secretkey = zmq.curve_keypair()
    s.connect("tcp://{}:{}".format(*server))
    def fixstr(text):   # headers are MessagePack: a map of 4 short strings and req 1
        return bytes([0xa0 | len(text)]) + text.encode()
    hello = bytes([0x84]) + b"".join(fixstr(k) + fixstr(v) for k, v in
                                     (("op", "hello"), ("role", "client"), ("name", "knock"))) + fixstr("req") + b"\x01"
    s.send_multipart([hello])
    reply = None
    if s.poll(3000):
        reply = "welcome" if b"welcome" in s.recv_multipart()[0] else "something else"
    s.close()
    ctx.term()
    return reply


def hold(config):
    start(config)
    while True:
        time.sleep(60)


def errors(config):
    server = (config["server_host"], config["server_port"])
    out = {}

    def attempt(name, **kwargs):
        t = time.monotonic()
        kwargs.setdefault("ssh_args", ssh_args(config))
        try:
            remote = start_remote_workers(server, [(config["host"], 2)], **kwargs)
        except RemoteWorkerError as e:
            out[name] = {"error": str(e), "host": e.host, "seconds": time.monotonic() - t}
        else:
            remote.stop()
            out[name] = {"error": None}

    attempt("no_sshd", ssh_args=ssh_args(dict(config, ssh_port=2222)))           # connection refused
    attempt("wrong_key", ssh_args=ssh_args(config, key=config["other_key"]))      # publickey refused
    attempt("no_worker_program", prefix="/nonexistent/treadle")
    emit("errors", **out)


if __name__ == "__main__":
    cfg = json.loads(sys.argv[1])
    {"run": run, "hold": hold, "errors": errors, "wildcard": wildcard, "private": private}[cfg["scenario"]](cfg)
