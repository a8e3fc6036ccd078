"""An interrupt (or %treadle stop) cancels exactly the tasks of its own cell, through real kernels
(the treadle kernel, and ipykernel with %load_ext treadle):

- an IPython task of an earlier cell that the flush timer had not sent yet when a later cell
  started is filed under the cell that ran ``tc.run()``: the later cell's interrupt spares it;
- a Rain session's tasks whose outputs nobody kept (released "when done" at submit) are live
  until they end: an interrupt and %treadle stop cancel them, the progress line never says
  "(futures released)" while the wait goes on, and another cell's kept object runs on."""

import os
import re

import pytest
from conftest import text

# Tasks mark their start in MARKS (a file per task, named by the cell's prefix); a cell marks
# when it begins to wait, so the interrupt lands in the wait. GO lets the gated tasks end.
SETUP = """\
%treadle workers 2 --cpus 1
import os, time
from treadle.ipython import client
from treadle.ipython import task_client as ipython_task_client
from treadle.rain.client import Client as RainClient, remote
from treadle.notebook import kernel as kernel_support
MARKS, GO = {marks!r}, {go!r}

def until_started(*prefixes):   # in the kernel: no fixed sleep in the test
    while not all(any(n.startswith(p) for n in os.listdir(MARKS)) for p in prefixes):
        time.sleep(0.05)

def waiting(tag):
    open(os.path.join(MARKS, "waiting-" + tag), "w").close()

def ipython_task(tag, gated=False):
    wait = "while not os.path.exists({{!r}}): time.sleep(0.05)".format(GO) if gated else "time.sleep(600)"
    return client.Task("import os, time\\nopen({{!r}}, 'w').close()\\n{{}}\\nr = {{!r}}".format(
        os.path.join(MARKS, tag), wait, tag), pull="r")

@remote()
def rain_sleeper(ctx, tag):
    open(os.path.join(MARKS, tag), "w").close()
    time.sleep(600)
    return tag

@remote(outputs=["left", "right"])
def rain_pair(ctx, tag):
    open(os.path.join(MARKS, tag), "w").close()
    time.sleep(600)
    return {{"left": b"l", "right": b"r"}}

@remote()
def rain_gated(ctx, tag):
    open(os.path.join(MARKS, tag), "w").close()
    while not os.path.exists(GO):
        time.sleep(0.05)
    return tag

tc = client.TaskClient()
rc = RainClient(*kernel_support.session().address)
"""


def start(k, tmp_path):
    marks = tmp_path / "marks"
    marks.mkdir()
    reply, outputs, _ = k.run(SETUP.format(marks=str(marks), go=str(tmp_path / "go")), timeout=60)
    assert reply["status"] == "ok", outputs
    return marks


def started(marks, *tags):
    return lambda: all(os.path.exists(os.path.join(str(marks), t)) for t in tags)


def run_ok(k, code, timeout=30):
    reply, outputs, _ = k.run(code, timeout=timeout)
    assert reply["status"] == "ok", outputs
    return outputs


def run_interrupted(k, code, when):
    reply, outputs, _ = k.run(code, interrupt_when=when, stop_on_error=False, timeout=60)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", outputs
    return outputs


@pytest.mark.timeout(180)
def test_an_interrupt_spares_the_ipython_task_of_an_earlier_cell(any_kernel, tmp_path):
    k = any_kernel
    marks = start(k, tmp_path)
    # Cell A's run waits in the client (the flush held back): cell B's barrier sends both
    # together, from B's thread, after B started. A's task must stay A's.
    out = text(run_ok(k, "ipython_task_client._FLUSH_DELAY = 3600\n"
                         "A = tc.run(ipython_task('ipA', gated=True))\nprint('unsent', tc.connection.last_plan)"))
    assert "unsent None" in out, out
    outputs = run_interrupted(k, "B = tc.run(ipython_task('ipB'))\nwaiting('ipB')\ntc.barrier([B])",
                              started(marks, "ipA", "ipB", "waiting-ipB"))
    assert "treadle: cancelled 1 task of this cell" in text(outputs, "stderr"), outputs
    (tmp_path / "go").touch()
    out = text(run_ok(k, "ipython_task_client._FLUSH_DELAY = 0.005\ntc.barrier([A, B])\n"
                         "for t in (A, B):\n    r = tc.get_task_result(t)\n"
                         "    print(t, type(r.failure).__name__, r.results)", timeout=90))
    lines = out.split("\n")
    assert lines[0] == "0 NoneType {'r': 'ipA'}", out
    assert lines[1].startswith("1 TaskAborted"), out


RAIN_CELL = ("s = rc.new_session()\nwith s.bind_only():\n"
             "    naps = [rain_sleeper('{tag}%d' % i) for i in range(6)]\ns.submit()\n")


def kept_elsewhere(k):
    """A cell whose Rain session keeps its object and runs until GO: no other cell's cancel may touch it."""
    run_ok(k, "s0 = rc.new_session()\nwith s0.bind_only():\n    kept = rain_gated('kept')\n"
              "kept.output.keep()\ns0.submit()")


def check_cancelled(k, tmp_path):
    out = text(run_ok(k, "print(sorted(set(rc.core.states([t.task_id for t in naps]))))\n"
                         "print(rc.core.states([kept.task_id]))"))
    lines = out.split("\n")
    assert lines[0] == "['cancelled']", out
    assert lines[1] in ("['running']", "['finished']"), out
    (tmp_path / "go").touch()
    out = text(run_ok(k, "print(kept.output.fetch().get_bytes())"))
    assert out.strip() == "b'kept'", out


def shown(outputs):
    """Every line and display of the cell as one text (the progress line is a display)."""
    return repr(outputs)


@pytest.mark.timeout(180)
def test_an_interrupt_cancels_a_rain_sessions_unkept_tasks(any_kernel, tmp_path):
    k = any_kernel
    marks = start(k, tmp_path)
    kept_elsewhere(k)
    run_ok(k, "until_started('kept')", timeout=60)
    outputs = run_interrupted(k, RAIN_CELL.format(tag="ra") + "waiting('ra')\ns.wait_all()",
                              lambda: started(marks, "waiting-ra")() and any(
                                  n.startswith("ra") for n in os.listdir(str(marks))))
    assert "treadle: cancelled 6 tasks of this cell" in text(outputs, "stderr"), outputs
    assert "(futures released)" not in shown(outputs), outputs
    check_cancelled(k, tmp_path)


@pytest.mark.timeout(180)
def test_treadle_stop_cancels_a_rain_sessions_unkept_tasks(any_kernel, tmp_path):
    k = any_kernel
    start(k, tmp_path)
    run_ok(k, RAIN_CELL.format(tag="rs"))
    outputs = run_ok(k, "until_started('rs')\n%treadle stop", timeout=60)
    assert "treadle: cancelled 6 tasks" in text(outputs), outputs
    out = text(run_ok(k, "print(sorted(set(rc.core.states([t.task_id for t in naps]))))"))
    assert out.split("\n")[0] == "['cancelled']", out


@pytest.mark.timeout(180)
def test_an_interrupt_and_stop_cancel_a_rain_task_with_several_unkept_outputs(any_kernel, tmp_path):
    """The session holds such a task by its outputs (each released "when done"), not its own id:
    the interrupt's cancel and %treadle stop must name those; another cell's kept object runs on."""
    k = any_kernel
    marks = start(k, tmp_path)
    kept_elsewhere(k)
    run_ok(k, "until_started('kept')", timeout=60)
    outputs = run_interrupted(k, "s = rc.new_session()\nwith s.bind_only():\n    pair = rain_pair('pi')\n"
                                 "s.submit()\nwaiting('pi')\ns.wait_all()",
                              started(marks, "pi", "waiting-pi"))
    assert "treadle: cancelled 1 task of this cell" in text(outputs, "stderr"), outputs
    out = text(run_ok(k, "print(rc.core.states([pair.task_id]), rc.core.states([kept.task_id]))"))
    assert out.strip() in ("['cancelled'] ['running']", "['cancelled'] ['finished']"), out
    run_ok(k, "s2 = rc.new_session()\nwith s2.bind_only():\n    pair2 = rain_pair('ps')\ns2.submit()")
    outputs = run_ok(k, "until_started('ps')\n%treadle stop", timeout=60)
    assert "treadle: cancelled 2 tasks" in text(outputs), outputs   # the pair, and the kept object's task
    out = text(run_ok(k, "print(rc.core.states([pair2.task_id]))"))
    assert out.strip() == "['cancelled']", out


def _display_texts(messages):
    return [m["content"].get("data", {}).get("text/plain", "") for m in messages
            if m["msg_type"] in ("display_data", "update_display_data")]


@pytest.mark.timeout(180)
def test_a_waits_line_follows_a_rain_sessions_unkept_tasks(any_kernel, tmp_path):
    k = any_kernel
    start(k, tmp_path)
    msg_id, messages = k.collect(
        "s = rc.new_session()\nwith s.bind_only():\n    gated = [rain_gated('pg%d' % i) for i in range(2)]\n"
        "s.submit()\ns.wait_all()\nprint('waited')",
        # the line shows the tasks running: the monitor asked their states, and looked then whether
        # every handle was released (each unkept one reads released() from the submit on)
        until=lambda ms: any(re.search(r"[1-9] running|\(futures released\)", t) for t in _display_texts(ms)))
    (tmp_path / "go").touch()
    k.follow(msg_id, messages=messages, timeout=60)
    shown = _display_texts(messages)
    assert not any("(futures released)" in t for t in shown), shown
    assert "waited" in "".join(m["content"].get("text", "") for m in messages if m["msg_type"] == "stream"), shown
    assert "2/2 done" in shown[-1], shown
