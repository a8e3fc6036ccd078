"""The treadle kernel itself on one host, its workers on another over ssh: `%treadle workers
--hosts` / `--hostfile` from a notebook's point of view, in two network namespaces.

    root namespace            namespace A (10.213.7.1)              namespace B (10.213.7.2)
    this test: jupyter_client  xtreadle (ip netns exec A ...)       sshd (key made for the test)
    (ipc:// sockets) ────────▶ embedded server on 10.213.7.1  ──ssh──▶ supervisor ─ treadle-worker x2
                               TREADLE_KERNEL_HOST=10.213.7.1 ◀──────  (connect back)

The kernel is started by jupyter_client from a kernelspec made for the test: the installed
"treadle" kernelspec's command behind `ip netns exec A`. `ip netns exec` changes the network
namespace only, not the file system, so the kernel's channels use ZeroMQ's ipc transport (Unix
sockets in a temporary folder): the client here reaches them although the kernel has no route
to this namespace, and the kernel's only network is the veth to B. Namespaces, keys and sshd are
the fixtures of test_ssh_workers.py (made and removed by the test; skipped, saying why, where
namespaces cannot be created or sshd is missing).
"""

import json
import os
import shutil
import tempfile
import time

import psutil
import pytest

from test_ssh_workers import (ADDR_A, ADDR_B, IP, SECRET, is_worker, keys, namespaces, processes_in,  # noqa: F401
                              sshd, treadle_processes_in_b, wait_until)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KERNELSPEC = os.path.join(ROOT, "prefix", "share", "jupyter", "kernels", "treadle", "kernel.json")

pytestmark = pytest.mark.timeout(150)

if not os.path.exists(KERNELSPEC):
    pytest.skip("the treadle kernelspec is not installed (./setup.sh build)", allow_module_level=True)

# Runs in the kernel: where a task ran (network namespace, the addresses it sees, its worker).
WHERE = '''\
import json, os, socket, subprocess, time
import treadle

def where(i):
    time.sleep(0.05)   # keep both workers busy
    ip = "/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else "ip"
    addresses = subprocess.run([ip, "-o", "-4", "addr", "show"], capture_output=True, text=True).stdout
    return {"i": i, "netns": os.readlink("/proc/self/ns/net"), "addresses": addresses,
            "worker_pid": os.getppid(), "pid": os.getpid()}

def ran_where(n):
    return json.dumps(treadle.gather([treadle.submit(where, i) for i in range(n)]))
'''


class NamespacedKernel:
    """The treadle kernel started by jupyter_client inside ``namespace``, reached over ipc."""

    def __init__(self, namespace, env):
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager
        with open(KERNELSPEC) as f:
            spec = json.load(f)
        # A short path: xeus 2.4 fails with "zmq::error_t: Invalid argument" on ipc paths of
        # more than ~22 characters (/tmp/tkXXXXXXXX/k-1 is 19).
        self.dir = tempfile.mkdtemp(prefix="tk", dir="/tmp")
        os.makedirs(os.path.join(self.dir, "kernels", "treadle-netns"))
        spec["argv"] = [IP, "netns", "exec", namespace] + spec["argv"]
        spec["env"] = dict(spec.get("env", {}), **env)
        spec["display_name"] = "treadle in " + namespace
        with open(os.path.join(self.dir, "kernels", "treadle-netns", "kernel.json"), "w") as f:
            json.dump(spec, f)
        self.log = open(os.path.join(self.dir, "kernel.log"), "wb")
        self.km = KernelManager(kernel_name="treadle-netns", transport="ipc", ip=os.path.join(self.dir, "k"),
                                kernel_spec_manager=KernelSpecManager(kernel_dirs=[os.path.join(self.dir, "kernels")]))
        self.kc = None
        try:
            self.km.start_kernel(stdout=self.log, stderr=self.log)
            self.kc = self.km.client()
            self.kc.start_channels()
            self.kc.wait_for_ready(timeout=60)
        except BaseException:
            print("the kernel's output:\n" + self.log_text())
            self.shutdown()
            raise

    @property
    def pid(self):
        return self.km.provisioner.pid if self.km.has_kernel else None

    def run(self, code, timeout=60):
        """Executes ``code``; returns (status, stdout, stderr, plain-text results, errors)."""
        out = {"stdout": [], "stderr": [], "results": [], "errors": []}

        def hook(msg):
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out[content["name"]].append(content["text"])
            elif kind in ("execute_result", "display_data"):
                out["results"].append(content["data"].get("text/plain", ""))
            elif kind == "error":
                out["errors"].append("{}: {}".format(content["ename"], content["evalue"]))
        reply = self.kc.execute_interactive(code, timeout=timeout, output_hook=hook, stop_on_error=False)
        return (reply["content"]["status"], "".join(out["stdout"]), "".join(out["stderr"]), out["results"],
                out["errors"])

    def ok(self, code, timeout=60):
        status, stdout, stderr, results, errors = self.run(code, timeout)
        assert status == "ok" and not errors and "Error" not in stderr, (code, status, errors, stderr, self.log_text())
        return stdout, results

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "kernel.log"), "rb") as f:
                return f.read().decode(errors="replace")[-3000:]
        except OSError:
            return ""

    def shutdown(self):
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        if self.km.has_kernel:
            self.km.shutdown_kernel()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def kernel_in_a(namespaces, sshd, keys):
    made = []

    def start():
        made.append(NamespacedKernel(namespaces["a"], {"TREADLE_KERNEL_HOST": ADDR_A, "TREADLE_SECRET": SECRET}))
        return made[-1]
    yield start
    for k in made:
        k.shutdown()


def ssh_args(keys):
    return ("-i {} -o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR".format(
        keys / "client_key"))


def located(k, n):
    stdout, _ = k.ok("print(ran_where({}))".format(n))
    return json.loads(stdout.strip().splitlines()[-1])


def kernel_netns(pid):
    return os.readlink("/proc/{}/ns/net".format(pid))


# -------------------------------------------------------------------------------------------

def test_kernel_in_a_runs_tasks_on_workers_in_b(namespaces, sshd, keys, kernel_in_a):
    k = kernel_in_a()
    # The kernel runs in namespace A, its server listening on A's address.
    assert kernel_netns(k.pid) == "net:[{}]".format(namespaces["inode_a"])
    stdout, _ = k.ok("from treadle.notebook import kernel as kernel_support\ns = kernel_support.session()\n"
                     "print(s.listen_address[0], s.address[0])")
    assert stdout.split() == [ADDR_A, ADDR_A]
    k.ok("%treadle config auto_workers off")   # every task must run on B's workers
    k.ok(WHERE)

    t = time.monotonic()
    stdout, _ = k.ok('%treadle workers --hosts {}:2 --ssh-args "{}"'.format(ADDR_B, ssh_args(keys)))
    assert time.monotonic() - t < 20
    assert "started 2 remote workers" in stdout and ADDR_B in stdout and "server {}:".format(ADDR_A) in stdout, stdout

    # %treadle status: two workers, serving their data on B's address, started elsewhere.
    _, results = k.ok("%treadle status")
    status = results[-1]
    rows = [line for line in status.splitlines() if "tcp://{}:".format(ADDR_B) in line]
    assert len(rows) == 2 and all("elsewhere" in r for r in rows), status
    assert "2 workers" in status, status

    # The tasks ran in B: its network namespace, the only address they see, two workers there.
    ran = located(k, 12)
    assert sorted(r["i"] for r in ran) == list(range(12))
    assert {r["netns"] for r in ran} == {"net:[{}]".format(namespaces["inode_b"])}
    for r in ran:
        assert ADDR_B in r["addresses"] and ADDR_A not in r["addresses"], r["addresses"]
    in_b = treadle_processes_in_b(namespaces, sshd)
    workers_in_b = {pid for pid, c in in_b if is_worker(c)}
    assert len(workers_in_b) == 2, in_b
    assert {r["worker_pid"] for r in ran} == workers_in_b
    # HyperLoom's built-in tasks too, and data both ways over the veth.
    stdout, _ = k.ok("from treadle.loom.client import Client, tasks\n"
                     "loom = Client(*treadle.default_client().address)\n"
                     "data = os.urandom(1 << 20)\n"
                     "print(loom.submit_one(tasks.const(data)).gather() == data,\n"
                     "      loom.submit_one(tasks.merge([tasks.const('ran-'), tasks.const('in-'), tasks.const('B')], '|'))"
                     ".gather().decode())\n"
                     "loom.close()")
    assert stdout.split() == ["True", "ran-|in-|B"], stdout
    # The secret is on no command line, here or in B.
    for p in psutil.process_iter(["cmdline"]):
        assert SECRET not in " ".join(p.info["cmdline"] or ()), p.info["cmdline"]

    # %treadle workers --stop: nothing of treadle is left in B.
    t = time.monotonic()
    stdout, _ = k.ok("%treadle workers --stop")
    assert "stopped 0 local workers and 2 on other hosts" in stdout, stdout
    assert time.monotonic() - t < 10
    wait_until(lambda: not treadle_processes_in_b(namespaces, sshd), timeout=5, what="no process left in namespace B")
    # The server drops them once their connections close.
    stdout, _ = k.ok("t = time.monotonic()\n"
                     "while kernel_support.session().status()['workers'] and time.monotonic() - t < 15:\n"
                     "    time.sleep(0.05)\n"
                     "print(len(kernel_support.session().status()['workers']), time.monotonic() - t)")
    print("server saw the workers go after {:.2f} s".format(float(stdout.split()[1])))
    assert stdout.split()[0] == "0", stdout


def test_hostfile_and_workers_end_with_the_kernel(namespaces, sshd, keys, kernel_in_a, tmp_path):
    """--hostfile; then the kernel shuts down with its remote workers running: they stop too."""
    hostfile = tmp_path / "hosts"
    hostfile.write_text("# namespace B, one worker with 2 cpus\n{}\n".format(ADDR_B))
    k = kernel_in_a()
    k.ok("%treadle config auto_workers off")
    k.ok(WHERE)
    stdout, _ = k.ok('%treadle workers --hostfile {} --cpus 2 --ssh-args "{}"'.format(hostfile, ssh_args(keys)))
    assert "started 1 remote worker (2 cpus)" in stdout and ADDR_B in stdout, stdout
    ran = located(k, 4)
    assert {r["netns"] for r in ran} == {"net:[{}]".format(namespaces["inode_b"])}
    in_b = treadle_processes_in_b(namespaces, sshd)
    assert len([c for _, c in in_b if is_worker(c)]) == 1, in_b

    kernel = psutil.Process(k.pid)
    k.shutdown()
    assert not kernel.is_running() or kernel.status() == psutil.STATUS_ZOMBIE
    wait_until(lambda: not treadle_processes_in_b(namespaces, sshd), timeout=8,
               what="the workers in B exiting with the kernel")
    # Nothing of the kernel is left in A either.
    assert not processes_in(namespaces["inode_a"]), processes_in(namespaces["inode_a"])
