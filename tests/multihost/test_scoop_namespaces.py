"""`python3 -m treadle.scoop --hostfile F` across two network namespaces joined by a veth pair.

    namespace A (10.213.7.1)                                namespace B (10.213.7.2)
    python3 -m treadle.scoop --hostfile F where.py          sshd (key made for the test)
      server on 0.0.0.0, 1 local worker ("127.0.0.1 1")
      ssh 10.213.7.2 nproc    ("10.213.7.2": one per core) ─▶ nproc
      ssh 10.213.7.2 supervisor                            ─▶ treadle-worker x cores
                                                    ◀──────  (connect back to 10.213.7.1)

Local workers serve their objects on A's address, not on loopback, since B's workers fetch from
them too (before, the futures waited for ever). The launcher's ssh is `ssh` on PATH: the test puts first a wrapper that adds the test's key
(SCOOP, too, runs plain `ssh host`). Namespaces, keys and sshd are the fixtures of
test_ssh_workers.py (skipped, saying why, where namespaces cannot be made or sshd is missing).
"""

import json
import os
import subprocess

import pytest

from test_ssh_workers import (ADDR_B, IP, PYTHON, keys, namespaces, sshd, treadle_processes_in_b,  # noqa: F401
                              wait_until)

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(HERE, "scoop_programs", "where.py")

pytestmark = pytest.mark.timeout(150)


def ssh_on_path(folder, keys):
    """A folder with an `ssh` that is the real one with the test's key and host-key checks off."""
    real = subprocess.run(["sh", "-c", "command -v ssh"], capture_output=True, text=True).stdout.strip()
    wrapper = folder / "ssh"
    wrapper.write_text("#!/bin/sh\nexec {} -i {} -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no "
                       "-o LogLevel=ERROR \"$@\"\n".format(real, keys / "client_key"))
    wrapper.chmod(0o755)
    return str(folder)


def test_the_launcher_runs_futures_on_both_hosts(namespaces, sshd, keys, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    hostfile = tmp_path / "hosts"
    hostfile.write_text("# this namespace, one worker\n127.0.0.1 1\n# the other one: a worker per core\n{}\n"
                        .format(ADDR_B))
    env = dict(os.environ, PATH=ssh_on_path(bin_dir, keys) + os.pathsep + os.environ["PATH"])
    done = subprocess.run([IP, "netns", "exec", namespaces["a"], PYTHON, "-m", "treadle.scoop", "-v",
                           "--hostfile", str(hostfile), PROGRAM], capture_output=True, text=True, env=env,
                          timeout=120, cwd=HERE)
    assert done.returncode == 0, done.stdout + done.stderr
    cores_b = len(os.sched_getaffinity(0))   # B is this machine behind a veth: nproc there says the same
    assert "{} workers: 127.0.0.1 (1), {} ({})".format(1 + cores_b, ADDR_B, cores_b) in done.stderr, done.stderr
    (line,) = [l for l in done.stdout.splitlines() if l.startswith("RAN ")]
    ran = json.loads(line[4:])
    assert sorted(r["i"] for r in ran) == list(range(24))
    by_namespace = {}
    for r in ran:
        by_namespace.setdefault(r["netns"], set()).add(r["worker"])
    a, b = ("net:[{}]".format(namespaces[k]) for k in ("inode_a", "inode_b"))
    assert set(by_namespace) == {a, b}, by_namespace     # both hosts ran futures
    assert len(by_namespace[a]) == 1 and len(by_namespace[b]) == cores_b, by_namespace
    # The launcher stopped the workers it started in B when the program ended.
    wait_until(lambda: not treadle_processes_in_b(namespaces, sshd), timeout=10,
               what="the workers in B exiting with the launcher")
