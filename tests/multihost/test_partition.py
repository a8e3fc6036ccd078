"""A network partition between hosts: namespace B's veth goes down mid-run, then up again.

    namespace A (10.213.7.1)                           namespace B (10.213.7.2)
    treadle-server, one worker, partition_driver.py    two workers (connect to 10.213.7.1)
                     ◀──────────────── veth ─── taken down, then up ───▶

The workers behind the partition are declared lost within the heartbeat timeout, their work is
recomputed on A's worker, and when the link is back they join again as new, empty workers: no
result is doubled and nothing stale is served (docs/architecture.md, "Rejoining"). Namespaces
and the server are test_ssh_workers.py's fixtures (skipped, saying why, without root).
"""

import json
import os
import subprocess
import time

import pytest

from test_ssh_workers import ADDR_A, ADDR_B, IP, PYTHON, namespaces, server, sh  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(os.path.dirname(os.path.dirname(HERE)), "prefix", "bin")
DRIVER = os.path.join(HERE, "partition_driver.py")

pytestmark = pytest.mark.timeout(150)
HEARTBEAT_TIMEOUT_S = 3   # the server's default --worker-timeout


def start_worker(namespace, server, listen, log):
    # --server-timeout: on a loaded machine the partition may outlast the default 10 s, after
    # which a worker gives its server up and exits; here it must be there to come back.
    return subprocess.Popen([IP, "netns", "exec", namespace, os.path.join(BIN, "treadle-worker"),
                             "{}:{}".format(server["host"], server["port"]), "--cpus", "1", "--listen", listen,
                             "--server-timeout", "60000", "--python", PYTHON],
                            stdout=log, stderr=subprocess.STDOUT)


def test_partition_lost_recomputed_and_rejoined(namespaces, server, tmp_path):
    log = open(tmp_path / "workers.log", "w")
    workers = [start_worker(namespaces["a"], server, ADDR_A, log)] + \
              [start_worker(namespaces["b"], server, ADDR_B, log) for _ in range(2)]
    driver = subprocess.Popen([IP, "netns", "exec", namespaces["a"], PYTHON, DRIVER,
                               json.dumps({"server_host": server["host"], "server_port": server["port"]})],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []

    def event(name):
        for line in driver.stdout:
            lines.append(line)
            if line.startswith("EVENT "):
                data = json.loads(line[6:])
                assert data["event"] == name, data
                return data
        driver.wait()
        raise AssertionError("the driver exited ({}) before '{}':\n{}{}\nworkers:\n{}".format(
            driver.returncode, name, "".join(lines), driver.stderr.read(), (tmp_path / "workers.log").read_text()))

    def say(word):
        driver.stdin.write(word + "\n")
        driver.stdin.flush()

    link_down = False
    try:
        assert event("ran")["namespaces"] == [False, True]   # both sides ran tasks
        event("running")
        sh(IP, "-n", namespaces["b"], "link", "set", "veth-b", "down")
        link_down = True
        say("down")
        lost = event("lost")
        # Declared lost within the heartbeat timeout (plus the server's 0.25 s check and polling).
        assert lost["seconds"] < HEARTBEAT_TIMEOUT_S + 2, lost
        assert event("recomputed")["elsewhere"] == 0
        assert all(w.poll() is None for w in workers), "a worker exited during the partition"
        sh(IP, "-n", namespaces["b"], "link", "set", "veth-b", "up")
        link_down = False
        say("up")
        rejoined = event("rejoined")
        assert rejoined["fresh"] == 2 and rejoined["fresh_done"] == [0, 0], rejoined
        after = event("after")
        assert after["namespaces"] == [False, True] and after["workers"] == 3, after
        assert driver.wait(30) == 0, driver.stderr.read()
        assert all(w.poll() is None for w in workers)
        text = (tmp_path / "workers.log").read_text()
        assert text.count("joining again as a new worker") == 2, text
    finally:
        if link_down:
            sh(IP, "-n", namespaces["b"], "link", "set", "veth-b", "up", check=False)
        if driver.poll() is None:
            driver.kill()
        driver.wait()
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(10)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait()
        log.close()
