"""The treadle kernel's embedded server tells the user of a lost worker in a line a person reads
(docs/kernel.md): ``treadle: worker vm:12 lost (...)`` on the kernel's stderr, which jupyter
console and nbconvert show, once, without a log file's clock time, role or level. A real kernel
through jupyter_client, its 2 local workers, one killed with SIGKILL."""

import os
import re
import signal

import psutil
import pytest

from conftest import Kernel
from tests.conftest import wait_until


@pytest.fixture
def kernel_and_stderr(tmp_path, monkeypatch):
    monkeypatch.delenv("TREADLE_LOG", raising=False)
    path = tmp_path / "kernel-stderr.txt"
    with open(path, "w") as stderr:
        kernel = Kernel(stderr=stderr)
    try:
        yield kernel, path
    finally:
        kernel.shutdown()


def test_a_lost_worker_is_one_readable_line(kernel_and_stderr):
    kernel, stderr = kernel_and_stderr
    reply, outputs, _ = kernel.run("%treadle workers 2 --cpus 1")
    assert reply["status"] == "ok", outputs
    workers = [p for p in kernel.processes() if p.name() == "treadle-worker"]
    assert len(workers) == 2
    os.kill(workers[0].pid, signal.SIGKILL)
    wait_until(lambda: " lost " in stderr.read_text(), timeout=60, what="the server noticing the lost worker")
    reply, outputs, _ = kernel.run("print('after')")
    assert reply["status"] == "ok", outputs
    lost = [line for line in stderr.read_text().splitlines() if " lost " in line]
    assert len(lost) == 1, lost
    assert re.fullmatch(r"treadle: worker \S+ lost \([^)]*\)", lost[0]), lost
    assert psutil.pid_exists(kernel.pid)
