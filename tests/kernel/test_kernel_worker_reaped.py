"""A local worker that dies (here SIGKILLed) is reaped by the kernel that started it at once, with
no cell run meanwhile: it stays no zombie of the kernel (docs/kernel.md). Both kernels: xtreadle
and ipykernel with %load_ext treadle, real kernels driven by jupyter_client."""

import os
import signal

import psutil

from tests.conftest import wait_until


def _zombie_or_running(pid):
    try:
        psutil.Process(pid).status()
        return True   # still there: running, or a zombie nobody reaped
    except psutil.NoSuchProcess:
        return False


def test_a_killed_local_worker_is_reaped_at_once(any_kernel):
    reply, outputs, _ = any_kernel.run("%treadle workers 2 --cpus 1", timeout=60)
    assert reply["status"] == "ok", outputs
    workers = [p for p in any_kernel.processes() if p.name() == "treadle-worker"]
    assert len(workers) == 2 and all(p.ppid() == any_kernel.pid for p in workers), workers
    victim = workers[0].pid
    os.kill(victim, signal.SIGKILL)
    # Gone from the process table: its parent, the kernel, waited for it (a zombie stays listed).
    wait_until(lambda: not _zombie_or_running(victim), timeout=30, what="the kernel reaping the killed worker")
    assert psutil.Process(workers[1].pid).status() != psutil.STATUS_ZOMBIE
    reply, outputs, _ = any_kernel.run("import treadle\nprint(treadle.submit(abs, -3).result())", timeout=60)
    assert reply["status"] == "ok" and ("stdout", "3\n") in outputs, outputs
