"""A Rain session whose tasks the kernel cancelled (an interrupt of the cell waiting on them, or
%treadle stop) raises at its next wait, through real kernels (the treadle kernel, and ipykernel
with %load_ext treadle): the kernel cancels through the core client, so the session hears
nothing from the server, and its waits used to hang forever."""

import os

import pytest
from conftest import text
from test_kernel_interrupt_own_cell import run_interrupted, run_ok, start, started

KEPT_CELL = ("s = rc.new_session()\nwith s.bind_only():\n"
             "    naps = [rain_sleeper('{tag}%d' % i) for i in range(3)]\n"
             "for t in naps: t.output.keep()\ns.submit()\n")


def run_error(k, code):
    """Runs a cell that must fail at once (a hang would time out): its error output."""
    reply, outputs, _ = k.run(code, timeout=30, stop_on_error=False)
    assert reply["status"] == "error", outputs
    return [o for o in outputs if o[0] == "error"][0]


@pytest.mark.timeout(180)
def test_wait_all_after_an_interrupted_wait_all_raises_the_cancel(any_kernel, tmp_path):
    k = any_kernel
    marks = start(k, tmp_path)
    outputs = run_interrupted(k, KEPT_CELL.format(tag="ri") + "waiting('ri')\ns.wait_all()",
                              lambda: started(marks, "waiting-ri")() and any(
                                  n.startswith("ri") for n in os.listdir(str(marks))))
    assert "treadle: cancelled 3 tasks of this cell" in text(outputs, "stderr"), outputs
    _, ename, evalue = run_error(k, "s.wait_all()")
    assert ename == "TaskException", (ename, evalue)
    assert evalue == "Task {} was cancelled by the interrupt of the cell that submitted it".format(
        "<Task rain_sleeper id={}>".format(text(run_ok(k, "print(naps[0].task_id)")).strip())), evalue
    # The session failed, as for a failed task: its other waits raise the same, at once.
    _, ename, again = run_error(k, "s.wait([naps[2]])")
    assert (ename, again) == ("TaskException", evalue)


@pytest.mark.timeout(180)
def test_waits_after_treadle_stop_raise_the_cancel(any_kernel, tmp_path):
    k = any_kernel
    start(k, tmp_path)
    run_ok(k, KEPT_CELL.format(tag="rs"))
    outputs = run_ok(k, "until_started('rs')\n%treadle stop", timeout=60)
    assert "treadle: cancelled" in text(outputs), outputs
    _, ename, evalue = run_error(k, "s.wait([naps[1]])")
    assert ename == "TaskException" and evalue.endswith("was cancelled by %treadle stop"), (ename, evalue)
    assert "rain_sleeper id=" in evalue, evalue
    _, ename, evalue = run_error(k, "naps[0].output.fetch()")
    assert ename == "TaskException" and "was cancelled by %treadle stop" in evalue, (ename, evalue)
    # A new session works on.
    out = text(run_ok(k, "s2 = rc.new_session()\nwith s2.bind_only():\n    g = rain_gated('after')\n"
                         "g.output.keep()\ns2.submit()\nopen(GO, 'w').close()\ns2.wait_all()\n"
                         "print(g.output.fetch().get_bytes())", timeout=60))
    assert out.strip() == "b'after'", out
