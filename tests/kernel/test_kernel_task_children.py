"""A program a cell's Python task started (subprocess.Popen) ends with the task when the kernel
shuts down, restarts or `%treadle stop` cancels it (docs/kernel.md): nothing of the task is left
running, re-parented to init. The engine side: tests/e2e/test_task_children.py."""

import psutil
import pytest

from conftest import text
from tests.conftest import TAG, tagged_processes, wait_until, _kill_all

CELL = """\
import os, subprocess, treadle

@treadle.task
def start_program(pid_file):
    p = subprocess.Popen(["/usr/bin/python3", "-c", "import time; time.sleep(600)", {tag!r}])
    with open(pid_file + ".tmp", "w") as f:
        f.write(str(p.pid))
    os.rename(pid_file + ".tmp", pid_file)
    return p.wait()

f = start_program({pid_file!r})
"""


def gone(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE  # ended, not reaped yet
    except psutil.NoSuchProcess:
        return True


@pytest.mark.timeout(180)
@pytest.mark.parametrize("end", ["shutdown", "restart", "stop"])
def test_a_python_tasks_program_ends_with_the_kernel_or_its_cancel(kernel, tmp_path, end):
    pid_file = str(tmp_path / "pid")
    try:
        reply, outputs, _ = kernel.run(CELL.format(tag=TAG, pid_file=pid_file))
        assert reply["status"] == "ok", outputs
        wait_until(lambda: (tmp_path / "pid").exists(), timeout=60, what="the task starting its program")
        pid = int((tmp_path / "pid").read_text())
        assert not gone(pid)
        if end == "shutdown":
            kernel.shutdown()
        elif end == "restart":
            kernel.km.restart_kernel()
            kernel.kc.wait_for_ready(timeout=60)
        else:
            reply, outputs, _ = kernel.run("%treadle stop")
            assert "cancelled 1 task" in text(outputs), outputs
        wait_until(lambda: gone(pid), timeout=30, what="the task's program ending ({})".format(end))
    finally:
        _kill_all(tagged_processes())
