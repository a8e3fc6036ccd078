"""Tasks submitted from a thread the user started follow IPython's rule for a thread's own output
(ipykernel 6.17: the latest cell's parent): what they print goes to the cell running when they
were submitted, where the thread's own print() goes, not to whichever cell submitted last; an interrupt,
which stops the main thread only, never cancels a thread's tasks; %treadle stop does. Both
kernels (docs/kernel.md)."""

import os

import pytest
from conftest import text

SETUP = """\
%treadle workers 2 --cpus 1
import os, threading, time, treadle
MARKS, GO = {marks!r}, {go!r}

def until_started(*tags):   # in the kernel: no fixed sleep in the test
    while not all(os.path.exists(os.path.join(MARKS, t)) for t in tags):
        time.sleep(0.05)

def mark(tag):
    open(os.path.join(MARKS, tag), "w").close()

def gated(tag):
    open(os.path.join(MARKS, tag), "w").close()
    while not os.path.exists(GO):
        time.sleep(0.05)
    return tag

def speaks(x):
    print("the thread's task says", x, flush=True)
    return x

treadle.submit(abs, -1).result()   # this cell submitted last from the main thread
"""


def start(k, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    reply, outputs, _ = k.run(SETUP.format(marks=str(marks), go=str(tmp_path / "go")), timeout=60)
    assert reply["status"] == "ok", outputs
    return marks


def run_ok(k, code, timeout=60):
    reply, outputs, _ = k.run(code, timeout=timeout)
    assert reply["status"] == "ok", outputs
    return outputs


@pytest.mark.timeout(180)
def test_a_threads_task_prints_in_the_cell_running_when_it_was_submitted(any_kernel, tmp_path):
    k = any_kernel
    start(k, tmp_path)
    run_ok(k, "go, done, results = threading.Event(), threading.Event(), []\n"
              "def background():\n"
              "    go.wait()\n"
              "    print('the thread says hello', flush=True)\n"
              "    results.append(treadle.submit(speaks, 7).result())\n"
              "    done.set()\n"
              "threading.Thread(target=background, daemon=True).start()")
    outputs = run_ok(k, "go.set()\ndone.wait(60)\nprint('results', results)")
    out = text(outputs)
    # Where the thread's own print goes (the running cell), its task's print goes too.
    assert "the thread says hello" in out and "results [7]" in out, outputs
    assert "the thread's task says 7" in out, outputs


@pytest.mark.timeout(180)
def test_an_interrupt_spares_a_threads_tasks_and_stop_cancels_them(any_kernel, tmp_path):
    k = any_kernel
    marks = start(k, tmp_path)
    # The thread submits while the next cell runs, after that cell submitted from the main thread.
    run_ok(k, "held = []\n"
              "def background():\n"
              "    until_started('main')\n"
              "    held.append(treadle.submit(gated, 'thread'))\n"
              "threading.Thread(target=background, daemon=True).start()")
    # Its interrupt cancels its own task, not the thread's.
    reply, outputs, _ = k.run("mine = treadle.submit(gated, 'main')\nuntil_started('main', 'thread')\n"
                              "mark('waiting')\nmine.result()",
                              interrupt_when=lambda: os.path.exists(str(marks / "waiting")),
                              stop_on_error=False, timeout=60)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", outputs
    assert "treadle: cancelled 1 task of this cell" in text(outputs, "stderr"), outputs
    out = text(run_ok(k, "print(mine.cancelled(), held[0].cancelled(), treadle.default_client().core.states([held[0].task_id]))"))
    assert out.strip() == "True False ['running']", out
    out = text(run_ok(k, "%treadle stop\nprint(held[0].cancelled())"))
    assert out.strip().endswith("True"), out
