"""A task cancelled by the kernel (an interrupt of the cell that submitted it, or %treadle stop)
looks cancelled in every layer, through real kernels (the treadle kernel, and ipykernel with
%load_ext treadle): IPython's barrier returns and its result is a TaskAborted failure, SCOOP and
native futures are cancelled and done and their result() raises CancelledError, and an
interrupted HyperLoom gather, SCOOP map or native map says how many tasks of the cell it cancelled."""

import os

import pytest
from conftest import text

# Tasks mark their start in MARKS (a file per task, named by the cell's prefix) and then sleep
# far longer than the test: only a cancel ends them. A cell marks when it begins to wait, so the
# interrupt lands in the wait, not in the submit before it.
SETUP = """\
%treadle workers 2 --cpus 1
import os, time
import treadle
from treadle.ipython import client
from treadle.loom.client import Client as LoomClient, tasks
from treadle.scoop import futures
from treadle.notebook import kernel as kernel_support
MARKS = {marks!r}

def sleeper(tag):
    open(os.path.join(MARKS, tag), "w").close()
    time.sleep(600)
    return tag

def waiting(tag):
    open(os.path.join(MARKS, "waiting-" + tag), "w").close()

def sent_by_the_flush_timer(tc):
    while tc.connection.last_plan is None:   # IPython's runs go out 5 ms later, from a thread
        time.sleep(0.01)

def ipython_task(tag):
    return client.Task("import time; open({{!r}}, 'w').close(); time.sleep(600); a = 1".format(
        os.path.join(MARKS, tag)), pull="a")

tc = client.TaskClient()
lc = LoomClient(*kernel_support.session().address)
"""

CANCELLED_LINE = "treadle: cancelled"


def start(k, marks):
    reply, outputs, _ = k.run(SETUP.format(marks=str(marks)), timeout=60)
    assert reply["status"] == "ok", outputs


def one_started(marks, prefix):
    """True once a task of the cell named ``prefix`` runs and the cell waits (on running tasks)."""
    return lambda: os.path.exists(os.path.join(str(marks), "waiting-" + prefix)) and any(
        name.startswith(prefix) for name in os.listdir(str(marks)))


def run_interrupted(k, code, when):
    reply, outputs, _ = k.run(code, interrupt_when=when, stop_on_error=False, timeout=60)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", outputs
    return outputs


def run_ok(k, code):
    reply, outputs, _ = k.run(code, timeout=30)   # a hang (a barrier that never returns) fails here
    assert reply["status"] == "ok", outputs
    return text(outputs)


@pytest.mark.timeout(180)
def test_an_interrupt_cancels_in_every_layer(any_kernel, tmp_path):
    k = any_kernel
    start(k, tmp_path)

    # IPython: the interrupted barrier's tasks are aborted; a barrier on them returns.
    outputs = run_interrupted(k, "ids = [tc.run(ipython_task('ip%d' % i)) for i in range(6)]\n"
                                 "sent_by_the_flush_timer(tc)\nwaiting('ip')\ntc.barrier(ids)",
                              one_started(tmp_path, "ip"))
    assert CANCELLED_LINE in text(outputs, "stderr"), outputs
    out = run_ok(k, "print(tc.queue_status())\ntc.barrier(ids)\nr = tc.get_task_result(ids[-1])\n"
                    "print(type(r.failure).__name__, r.failure)")
    assert "{'scheduled': 0, 'pending': 0, 'succeeded': 0, 'failed': 6}" in out, out
    assert "TaskAborted Task 5" in out and "cancelled by the interrupt of the cell that submitted it" in out, out

    # SCOOP futures waited on one by one.
    outputs = run_interrupted(k, "fs = [futures.submit(sleeper, 'sc%d' % i) for i in range(6)]\n"
                                 "waiting('sc')\n[f.result() for f in fs]", one_started(tmp_path, "sc"))
    assert CANCELLED_LINE in text(outputs, "stderr"), outputs
    out = run_ok(k, "print(all(f.cancelled() for f in fs), all(f.done() for f in fs), fs[-1])\n"
                    "try:\n    fs[-1].result()\nexcept futures.CancelledError as e:\n    print('raised', repr(e))")
    assert out.startswith("True True <treadle.scoop Future"), out
    assert "raised TaskCancelled(" in out and "(sleeper) was cancelled by the interrupt" in out, out

    # Native futures.
    outputs = run_interrupted(k, "nf = [treadle.submit(sleeper, 'na%d' % i) for i in range(6)]\n"
                                 "waiting('na')\ntreadle.gather(nf)",
                              one_started(tmp_path, "na"))
    assert CANCELLED_LINE in text(outputs, "stderr"), outputs
    out = run_ok(k, "import concurrent.futures\nprint(nf[-1].done(), nf[-1])\n"
                    "try:\n    nf[-1].result()\nexcept concurrent.futures.CancelledError as e:\n    print('raised', e)")
    assert out.startswith("True <treadle.Future sleeper-5 (task "), out
    assert out.split("\n")[0].endswith(" cancelled>"), out
    assert "raised task " in out and "(sleeper-5) was cancelled by the interrupt" in out, out

    # An interrupted HyperLoom gather says what it cancelled; its futures stay cancelled.
    outputs = run_interrupted(k, "lf = lc.submit([tasks.run(('sh', '-c', 'touch {}/lo$0; exec sleep 600', str(i)))\n"
                                 "                 for i in range(6)])\nwaiting('lo')\nlc.gather(lf)".format(tmp_path),
                              one_started(tmp_path, "lo"))
    assert CANCELLED_LINE in text(outputs, "stderr"), outputs
    out = run_ok(k, "print([f.cancelled() for f in lf].count(True))\n"
                    "try:\n    lc.gather(lf[-1:])\n"
                    "except concurrent.futures.CancelledError as e:\n    print('raised', e)")
    assert out.startswith("6\n") and "raised task " in out and "cancelled by the interrupt" in out, out

    # So do an interrupted SCOOP map and native map.
    outputs = run_interrupted(k, "results = futures.map(sleeper, ['sm%d' % i for i in range(6)])\n"
                                 "waiting('sm')\nlist(results)",
                              one_started(tmp_path, "sm"))
    assert CANCELLED_LINE in text(outputs, "stderr"), outputs
    outputs = run_interrupted(k, "waiting('nm')\nlist(treadle.map(sleeper, ['nm%d' % i for i in range(6)]))",
                              one_started(tmp_path, "nm"))
    assert CANCELLED_LINE in text(outputs, "stderr"), outputs


@pytest.mark.timeout(120)
def test_treadle_stop_cancels_in_every_layer(any_kernel, tmp_path):
    k = any_kernel
    start(k, tmp_path)
    # Two tasks run (the next cell waits for one to start), the others wait for a cpu.
    reply, outputs, _ = k.run(
        "ids = [tc.run(ipython_task('ip%d' % i)) for i in range(3)]\n"
        "sent_by_the_flush_timer(tc)\n"   # before this cell submits from its own thread
        "fs = [futures.submit(sleeper, 'sc%d' % i) for i in range(3)]\n"
        "nf = [treadle.submit(sleeper, 'na%d' % i) for i in range(3)]\n")
    assert reply["status"] == "ok", outputs
    reply, outputs, _ = k.run("while not os.listdir(MARKS):\n    time.sleep(0.05)\n%treadle stop", timeout=60)
    assert reply["status"] == "ok" and "treadle: cancelled" in text(outputs), outputs
    out = run_ok(k, "print(tc.queue_status())\ntc.barrier(ids)\nr = tc.get_task_result(ids[0])\n"
                    "print(type(r.failure).__name__, r.failure)\n"
                    "print(all(f.cancelled() for f in fs), all(f.done() for f in fs), all(f.done() for f in nf))\n"
                    "for f in (fs[0], nf[0]):\n"
                    "    try:\n        f.result()\n    except futures.CancelledError as e:\n        print('raised', e)")
    lines = out.split("\n")
    assert lines[0] == "{'scheduled': 0, 'pending': 0, 'succeeded': 0, 'failed': 3}", out
    assert lines[1].startswith("TaskAborted Task 0") and lines[1].endswith("was cancelled by %treadle stop"), out
    assert lines[2] == "True True True", out
    assert lines[3].startswith("raised task ") and lines[3].endswith("(sleeper) was cancelled by %treadle stop"), out
    assert lines[4].startswith("raised task ") and lines[4].endswith("(sleeper-0) was cancelled by %treadle stop"), out
