"""Workers on another host over real ssh: two network namespaces joined by a veth pair.

    namespace A (10.213.7.1)                          namespace B (10.213.7.2)
    treadle-server --host 10.213.7.1                  sshd (key made for the test)
    remote_driver.py: start_remote_workers ──ssh──▶  supervisor ─ treadle-worker x2
                      client, tasks       ◀──────────  (connect back to 10.213.7.1)

The test makes and removes both namespaces, the keys, sshd and the server itself; traffic stays
on the veth between the namespaces. It needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN) for
`ip netns` and Debian's openssh-server for sshd, and skips, saying which is missing, without.
"""

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.join(ROOT, "prefix", "bin")
DRIVER = os.path.join(HERE, "remote_driver.py")
PYTHON = "/usr/bin/python3"
SSHD = "/usr/sbin/sshd"
IP = shutil.which("ip") or "/usr/sbin/ip"

ADDR_A, ADDR_B = "10.213.7.1", "10.213.7.2"   # a private /30 that exists only inside the two namespaces
NS_PREFIX = "treadle-mh-"

pytestmark = pytest.mark.timeout(90)
SECRET = os.environ["TREADLE_SECRET"]   # tests/conftest.py sets a random one for the whole run


def wait_until(predicate, timeout=10.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("{} did not hold within {} s".format(what, timeout))
        time.sleep(0.05)


def sh(*args, check=True, **kwargs):
    return subprocess.run(args, capture_output=True, text=True, check=check, **kwargs)


def ns_inode(name):
    return os.stat("/run/netns/" + name).st_ino


def processes_in(inode, exclude=()):
    """[(pid, cmdline)] of the processes whose network namespace is ``inode``."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if p.pid in exclude:
                continue
            if os.stat("/proc/{}/ns/net".format(p.pid)).st_ino == inode:
                found.append((p.pid, " ".join(p.info["cmdline"] or ())[:160]))
        except (OSError, psutil.Error):
            pass
    return found


def is_worker(cmdline):
    """A treadle-worker process (by its program: the supervisor's arguments name it too)."""
    return cmdline.split(" ", 1)[0].endswith("/treadle-worker")


def kill_processes_in(inode):
    procs = []
    for pid, _ in processes_in(inode):
        try:
            procs.append(psutil.Process(pid))
            procs[-1].kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=5)


def remove_namespace(name):
    if os.path.exists("/run/netns/" + name):
        kill_processes_in(ns_inode(name))
        sh(IP, "netns", "del", name, check=False)


def remove_stale_namespaces():
    """Namespaces left by a test run that was killed (its pid is in the name)."""
    for path in glob.glob("/run/netns/" + NS_PREFIX + "*"):
        m = re.match(re.escape(NS_PREFIX) + r"(\d+)-", os.path.basename(path))
        if m and not psutil.pid_exists(int(m.group(1))):
            remove_namespace(os.path.basename(path))


def why_no_namespaces():
    if not os.access(IP, os.X_OK):
        return "iproute2's `ip` is not installed"
    probe = "{}{}-probe".format(NS_PREFIX, os.getpid())
    r = sh(IP, "netns", "add", probe, check=False)
    if r.returncode != 0:
        return "cannot create network namespaces here (uid {}; needs root / CAP_NET_ADMIN): {}".format(
            os.getuid(), r.stderr.strip())
    sh(IP, "netns", "del", probe, check=False)
    return None


# -------------------------------------------------------------------------------------------
# Fixtures: namespaces, sshd in B, server in A

@pytest.fixture(scope="module")
def namespaces():
    reason = why_no_namespaces()
    if reason:
        pytest.skip("multi-host test skipped: " + reason)
    for tool in (SSHD, shutil.which("ssh"), shutil.which("ssh-keygen")):
        if not tool or not os.access(tool, os.X_OK):
            pytest.skip("multi-host test skipped: openssh-server (sshd) and openssh-client are needed "
                        "(apt-get install openssh-server)")
    remove_stale_namespaces()
    a, b = "{}{}-a".format(NS_PREFIX, os.getpid()), "{}{}-b".format(NS_PREFIX, os.getpid())
    try:
        sh(IP, "netns", "add", a)
        sh(IP, "netns", "add", b)
        sh(IP, "-n", a, "link", "add", "veth-a", "type", "veth", "peer", "name", "veth-b")
        sh(IP, "-n", a, "link", "set", "veth-b", "netns", b)
        sh(IP, "-n", a, "addr", "add", ADDR_A + "/30", "dev", "veth-a")
        sh(IP, "-n", b, "addr", "add", ADDR_B + "/30", "dev", "veth-b")
        for ns, dev in ((a, "veth-a"), (b, "veth-b")):
            sh(IP, "-n", ns, "link", "set", "lo", "up")
            sh(IP, "-n", ns, "link", "set", dev, "up")
        yield {"a": a, "b": b, "inode_a": ns_inode(a), "inode_b": ns_inode(b)}
    finally:
        remove_namespace(a)
        remove_namespace(b)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("ssh")
    for name in ("host_key", "client_key", "other_key"):
        sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "treadle-multihost-test", "-f", str(d / name))
    shutil.copy(d / "client_key.pub", d / "authorized_keys")
    return d


@pytest.fixture(scope="module")
def sshd(namespaces, keys):
    config = keys / "sshd_config"
    config.write_text("\n".join([
        "ListenAddress " + ADDR_B, "Port 22",
        "HostKey {}".format(keys / "host_key"),
        "AuthorizedKeysFile {}".format(keys / "authorized_keys"),
        "PidFile {}".format(keys / "sshd.pid"),
        "UsePAM no", "StrictModes no", "PermitRootLogin prohibit-password",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no",
        "PrintMotd no", "UseDNS no", "LogLevel INFO", ""]))
    os.makedirs("/run/sshd", exist_ok=True)   # sshd's privilege-separation directory
    sh(SSHD, "-t", "-f", str(config))
    log = open(keys / "sshd.log", "w")
    proc = subprocess.Popen([IP, "netns", "exec", namespaces["b"], SSHD, "-D", "-e", "-f", str(config)],
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: proc.poll() is not None or "Server listening" in (keys / "sshd.log").read_text(),
                   timeout=10, what="sshd listening")
        assert proc.poll() is None, "sshd exited:\n" + (keys / "sshd.log").read_text()
        yield {"pid": proc.pid, "log": keys / "sshd.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def server(namespaces):
    proc, port = start_server(namespaces["a"], ADDR_A)
    try:
        yield {"host": ADDR_A, "port": port}
    finally:
        stop_server(proc)


def start_server(namespace, host):
    """treadle-server in ``namespace`` (its secret: $TREADLE_SECRET); returns (Popen, port)."""
    proc = subprocess.Popen([IP, "netns", "exec", namespace, os.path.join(BIN, "treadle-server"),
                             "--host", host, "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    words = proc.stdout.readline().split()
    if words[:2] != ["listening", host]:
        stop_server(proc)
        raise AssertionError("treadle-server did not start: {}".format(words))
    return proc, int(words[2])


def stop_server(proc):
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()


@pytest.fixture
def config(namespaces, keys, sshd, server, tmp_path):
    hostfile = tmp_path / "hosts"
    hostfile.write_text("# the other namespace, two workers\n\n{} 2\n".format(ADDR_B))
    return {"server_host": server["host"], "server_port": server["port"], "host": ADDR_B,
            "hostfile": str(hostfile), "key": str(keys / "client_key"), "other_key": str(keys / "other_key")}


class Driver:
    """remote_driver.py running in namespace A."""

    def __init__(self, namespaces, config, scenario):
        self.proc = subprocess.Popen(
            [IP, "netns", "exec", namespaces["a"], PYTHON, DRIVER, json.dumps(dict(config, scenario=scenario))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = []

    def event(self, name):
        for line in self.proc.stdout:
            self.lines.append(line)
            if line.startswith("EVENT "):
                data = json.loads(line[6:])
                assert data["event"] == name, data
                return data
        self.proc.wait()
        raise AssertionError("the driver exited with code {} before '{}':\n{}{}".format(
            self.proc.returncode, name, "".join(self.lines), self.proc.stderr.read()))

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            f.close()


@pytest.fixture
def driver(namespaces, config):
    made = []

    def make(scenario):
        made.append(Driver(namespaces, config, scenario))
        return made[-1]

    yield make
    for d in made:
        d.close()


def treadle_processes_in_b(namespaces, sshd):
    return processes_in(namespaces["inode_b"], exclude={sshd["pid"]})


# -------------------------------------------------------------------------------------------

def test_workers_on_the_other_host_run_tasks(namespaces, sshd, driver):
    d = driver("run")
    started = d.event("started")
    assert started["hosts"] == [[ADDR_B, 2]]
    assert "2 remote workers" in started["describe"] and ADDR_B in started["describe"], started["describe"]
    assert started["seconds"] < 15

    results = d.event("results")
    located = results["located"]
    assert sorted(r["i"] for r in located) == list(range(12))
    # Every task ran in namespace B: its network namespace, and the only address it sees.
    assert {r["netns"] for r in located} == {"net:[{}]".format(namespaces["inode_b"])}
    for r in located:
        assert ADDR_B in r["addresses"] and ADDR_A not in r["addresses"], r["addresses"]
    # Both workers took tasks; both are in B and serve their data on B's address.
    workers = results["workers"]
    assert len(workers) == 2 and all(w["address"].startswith("tcp://{}:".format(ADDR_B)) for w in workers), workers
    assert len({r["worker_pid"] for r in located}) == 2
    assert results["digest_matches"] and results["const_roundtrip"]
    assert results["merge"] == "ran-|in-|B"

    # While they run: the supervisor and two workers (with their executors) live in B, and the
    # secret is on no command line anywhere.
    in_b = treadle_processes_in_b(namespaces, sshd)
    assert len([c for _, c in in_b if is_worker(c)]) == 2, in_b
    for p in psutil.process_iter(["cmdline"]):
        assert SECRET not in " ".join(p.info["cmdline"] or ()), p.info["cmdline"]
    worker_pids = {r["worker_pid"] for r in located}
    assert worker_pids <= {pid for pid, _ in in_b}

    d.proc.stdin.write("stop\n")
    d.proc.stdin.flush()
    stopped = d.event("stopped")
    assert stopped["codes"] == [0], stopped
    assert stopped["seconds"] < 8
    assert "stopped (code 0)" in stopped["describe"]
    assert d.proc.wait(10) == 0
    # Nothing of treadle is left in B once stop() returned (only sshd's own session teardown may
    # take a moment).
    wait_until(lambda: not treadle_processes_in_b(namespaces, sshd), timeout=3,
               what="no process left in namespace B")


@pytest.mark.parametrize("kill", ["driver", "ssh"])
def test_remote_workers_die_with_their_ssh_session(namespaces, sshd, driver, kill):
    """The process that started them (say a kernel) or its ssh client is killed outright: the
    session drops, and the remote supervisor stops the workers."""
    d = driver("hold")
    started = d.event("started")
    in_b = treadle_processes_in_b(namespaces, sshd)
    assert len([c for _, c in in_b if is_worker(c)]) == 2, in_b
    victim = d.proc.pid if kill == "driver" else started["ssh_pids"][0]
    os.kill(victim, signal.SIGKILL)
    t = time.monotonic()
    wait_until(lambda: not treadle_processes_in_b(namespaces, sshd), timeout=8,
               what="the workers in B exiting after the {} was killed".format(kill))
    # Well before a worker would give up on a silent server (10 s).
    assert time.monotonic() - t < 8
    if kill == "ssh":
        d.close()


def test_ssh_failures_name_the_host(namespaces, sshd, driver):
    errors = driver("errors").event("errors")
    refused = errors["no_sshd"]
    assert refused["host"] == ADDR_B and ADDR_B in refused["error"], refused
    assert "Connection refused" in refused["error"] and refused["seconds"] < 10, refused
    denied = errors["wrong_key"]
    assert denied["host"] == ADDR_B and "Permission denied" in denied["error"] and denied["seconds"] < 10, denied
    missing = errors["no_worker_program"]
    assert missing["host"] == ADDR_B and "/nonexistent/treadle/bin/treadle-worker" in missing["error"], missing
    assert not treadle_processes_in_b(namespaces, sshd)


def test_server_on_all_addresses(namespaces, sshd, config, driver):
    """A server bound to 0.0.0.0: each host is given this side's address on the route to it."""
    proc, port = start_server(namespaces["a"], "0.0.0.0")
    try:
        d = Driver(namespaces, dict(config, server_port=port), "wildcard")
        try:
            seen = d.event("wildcard")
        finally:
            d.close()
    finally:
        stop_server(proc)
    assert "-> server {}:{}".format(ADDR_A, port) in seen["describe"], seen["describe"]
    assert seen["netns"] == "net:[{}]".format(namespaces["inode_b"])
    assert [w["address"].split(":")[1] for w in seen["workers"]] == ["//" + ADDR_B]
    wait_until(lambda: not treadle_processes_in_b(namespaces, sshd), timeout=3, what="no process left in B")


def test_nothing_secret_crosses_the_network_in_clear(namespaces, sshd, config, tmp_path):
    """Between hosts every link is CURVE (encrypted, authenticated by keys made from the secret):
    frames captured on the veth never show the secret or a task's payload, and peers without the
    key are refused. (With PLAIN, the secret crossed in clear in every handshake.)"""
    payload = "TREADLE-PAYLOAD-" + os.urandom(8).hex()
    out = tmp_path / "veth-a.frames"
    capture = subprocess.Popen([IP, "netns", "exec", namespaces["a"], PYTHON, os.path.join(HERE, "packet_capture.py"),
                                "veth-a", str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert capture.stdout.readline().strip() == "capturing"
        d = Driver(namespaces, dict(config, payload=payload), "private")
        try:
            d.event("started")
            seen = d.event("private")
        finally:
            d.close()
    finally:
        capture.stdin.close()
        capture.wait(10)
    frames = out.read_bytes()
    assert seen["echo"] == "echoed: echoed: " + payload and seen["loom"] == payload + "!", seen
    assert len(frames) > 20000, "too little traffic was captured to mean anything: {} bytes".format(len(frames))
    assert b"echoed" not in frames and payload.encode() not in frames
    assert SECRET.encode() not in frames
    # The server took only a peer with the key made from the secret.
    assert seen["plain_with_secret"] is None and seen["curve_other_key"] is None, seen
    assert seen["curve_secret_key"] == "welcome", seen
    wait_until(lambda: not treadle_processes_in_b(namespaces, sshd), timeout=3, what="no process left in B")


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))
