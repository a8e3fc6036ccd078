"""A worker the server loses is told to the notebook's user in a cell, once (docs/kernel.md,
"lost workers"): in the stderr of the cell that waits on tasks, while it waits; a loss while no
cell runs, in the next cell that waits, or in the next %treadle status / %treadle workers, saying
when. The kernel's stderr keeps the server's line. Both kernels (xtreadle, and ipykernel with
%load_ext treadle), real kernels driven by jupyter_client, local workers killed with SIGKILL."""

import os
import re
import signal

import pytest

from conftest import Kernel, text
from tests.conftest import wait_until

SETUP = """\
%treadle workers 3 --cpus 1
import os, time, treadle

def gated(marks, i):
    open(os.path.join(marks, "started-{}-{}".format(i, os.getpid())), "w").close()
    while not os.path.exists(os.path.join(marks, "open")):
        time.sleep(0.01)
    return i
"""


@pytest.fixture(params=["treadle", "python3"])
def kernel_and_stderr(request, tmp_path, monkeypatch):
    monkeypatch.delenv("TREADLE_LOG", raising=False)
    path = tmp_path / "kernel-stderr.txt"
    with open(path, "w") as stderr:
        kernel = Kernel(request.param, stderr=stderr)
    try:
        if request.param == "python3":
            reply, outputs, _ = kernel.run("%load_ext treadle")
            assert reply["status"] == "ok", outputs
        yield kernel, path
    finally:
        kernel.shutdown()


def workers_of(kernel):
    return sorted(p.pid for p in kernel.processes() if p.name() == "treadle-worker" and p.ppid() == kernel.pid)


def stderr_of(messages):
    return "".join(m["content"]["text"] for m in messages
                   if m["msg_type"] == "stream" and m["content"]["name"] == "stderr")


def lost_line(pid, when=""):
    return re.compile(r"^treadle: worker \S+:{} lost{} \(connection closed\)$".format(pid, when), re.M)


def test_a_lost_worker_is_told_in_the_waiting_cell_or_the_next_one(kernel_and_stderr, tmp_path):
    kernel, kernel_stderr = kernel_and_stderr
    marks = tmp_path / "marks"
    marks.mkdir()
    reply, outputs, _ = kernel.run(SETUP, timeout=90)
    assert reply["status"] == "ok", outputs
    first, second, third = workers_of(kernel)

    # 1. While a cell waits: its stderr says it, then the cell ends well (the task ran again).
    killed = []

    def kill_then_open(messages):
        started = [name for name in os.listdir(marks) if name.startswith("started-")]
        if not killed and len(started) >= 2:
            os.kill(first, signal.SIGKILL)
            killed.append(first)
        if killed and lost_line(first).search(stderr_of(messages)):
            (marks / "open").touch()   # told while the cell still waits: now it may end
        return any(m["msg_type"] == "status" and m["content"]["execution_state"] == "idle" for m in messages)

    _, messages = kernel.collect("print(treadle.gather([treadle.submit(gated, {!r}, i) for i in range(3)]))"
                                 .format(str(marks)), until=kill_then_open, timeout=90)
    assert "[0, 1, 2]" in "".join(m["content"]["text"] for m in messages
                                  if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"), messages
    told = stderr_of(messages)
    assert len(lost_line(first).findall(told)) == 1, told
    wait_until(lambda: lost_line(first).search(kernel_stderr.read_text()), what="the kernel's log line")

    # 2. While no cell runs: the next cell that waits says it, and when.
    os.kill(second, signal.SIGKILL)
    wait_until(lambda: lost_line(second).search(kernel_stderr.read_text()), timeout=60,
               what="the server's line in the kernel's log")
    reply, outputs, _ = kernel.run("print(treadle.submit(abs, -4).result())", timeout=60)
    assert reply["status"] == "ok" and text(outputs) == "4\n", outputs
    told = text(outputs, "stderr")
    assert len(lost_line(second, r" at \d\d:\d\d:\d\d").findall(told)) == 1, told
    assert not lost_line(first).search(told), told      # told once

    # 3. While no cell runs, then %treadle status: it says it there; nothing is told twice.
    reply, outputs, _ = kernel.run("%treadle workers 1 --cpus 1", timeout=60)   # one to kill next
    assert reply["status"] == "ok" and "lost" not in text(outputs, "stderr"), outputs
    os.kill(third, signal.SIGKILL)
    wait_until(lambda: lost_line(third).search(kernel_stderr.read_text()), timeout=60,
               what="the server's line in the kernel's log")
    reply, outputs, _ = kernel.run("%treadle status")
    assert reply["status"] == "ok", outputs
    assert len(lost_line(third, r" at \d\d:\d\d:\d\d").findall(text(outputs, "stderr"))) == 1, outputs
    reply, outputs, _ = kernel.run("print(treadle.submit(abs, -5).result())", timeout=60)
    assert reply["status"] == "ok" and text(outputs) == "5\n" and "lost" not in text(outputs, "stderr"), outputs
