"""HyperLoom tasks that a ``%%treadle submit`` cell submits are the kernel's and the cell's, as
its native tasks are (docs/kernel.md: the stop and the interrupt cancel "whatever API submitted
the tasks"): ``%treadle stop`` cancels them after a ``--no-wait`` cell, an interrupt of a cell
that waits for them cancels them, whichever client submitted them (treadle's default one, or a
``treadle.Client`` named by ``--client``). The program's process ends: nothing runs on.

Found by tryout9 (finding 2): the plan went through the native client's connection, which the
cell tracker took for the native API's own calls, so nobody owned its tasks."""

import os
import time

import psutil
import pytest
from conftest import errors, text

SETUP = """\
%treadle workers 2 --cpus 1
import treadle
from treadle.loom.client import tasks
MARKS = {marks!r}

def sleeper(tag):   # a program that says it runs (its pid in MARKS/tag), then sleeps
    return tasks.run(['sh', '-c', 'echo $$ > {{}}.tmp && mv {{}}.tmp {{}} && exec sleep 600'.format(
        *[os.path.join(MARKS, tag)] * 3)])

import os
def running():
    return treadle.default_client().status()['states'].get('running', 0)
"""


def start(k, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    reply, outputs, _ = k.run(SETUP.format(marks=str(marks)), timeout=60)
    assert reply["status"] == "ok", outputs
    return marks


def pid_of(marks, tag, timeout=60):
    """The program's pid, once it wrote it (it runs then)."""
    path = os.path.join(str(marks), tag)
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        assert time.monotonic() < deadline, "the task {} never started".format(tag)
        time.sleep(0.05)
    with open(path) as f:
        return int(f.read())


def ends(pid, timeout=30):
    """True once the process is gone (or a zombie its parent has yet to reap)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def run_ok(k, code, timeout=30):
    reply, outputs, _ = k.run(code, timeout=timeout)
    assert reply["status"] == "ok", outputs
    return outputs


def nothing_runs(k):
    out = text(run_ok(k, "print(running())"))
    assert out == "0\n", out


@pytest.mark.timeout(180)
@pytest.mark.parametrize("client", ["", " --client c"])
def test_treadle_stop_cancels_the_hyperloom_tasks_of_a_no_wait_submit(any_kernel, tmp_path, client):
    k = any_kernel
    marks = start(k, tmp_path)
    if client:
        run_ok(k, "c = treadle.Client(treadle.default_client().address)")
    run_ok(k, "%%treadle submit --no-wait" + client + "\nt = sleeper('nw')")
    pid = pid_of(marks, "nw")
    outputs = run_ok(k, "%treadle stop")
    assert text(outputs) == "treadle: cancelled 1 task\n", outputs
    out = text(run_ok(k, "print(t.client.states([t.task_id]))"))
    assert out == "['cancelled']\n", out
    assert ends(pid), "the program runs on after %treadle stop"
    nothing_runs(k)
    outputs = run_ok(k, "%treadle stop")
    assert text(outputs).startswith("treadle: nothing to cancel"), outputs


@pytest.mark.timeout(180)
@pytest.mark.parametrize("client", ["", " --client c"])
def test_an_interrupt_cancels_the_hyperloom_tasks_its_submit_waits_for(any_kernel, tmp_path, client):
    k = any_kernel
    marks = start(k, tmp_path)
    if client:
        run_ok(k, "c = treadle.Client(treadle.default_client().address)")
    reply, outputs, _ = k.run("%%treadle submit" + client + "\nt = sleeper('iw')\nu = sleeper('iw2')",
                              interrupt_when=lambda: os.path.exists(os.path.join(str(marks), "iw")),
                              stop_on_error=False, timeout=60)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", outputs
    assert "treadle: cancelled 2 tasks of this cell" in text(outputs, "stderr"), outputs
    assert ends(pid_of(marks, "iw")), "the program runs on after the interrupt"
    nothing_runs(k)
    # The next cell has nothing of the interrupted one to cancel, and the workers are free.
    outputs = run_ok(k, "%treadle stop")
    assert text(outputs).startswith("treadle: nothing to cancel"), outputs
    reply, outputs, _ = k.run("%%treadle submit\nok = tasks.const(b'fine')", timeout=60)
    assert reply["status"] == "ok" and not errors(outputs), outputs
    assert text(run_ok(k, "print(ok)")) == "b'fine'\n"
