"""%treadle stop and an interrupt cancel every call the user submitted, also those a client still
held back (IPython's tc.run sends from a flush timer: a stop that came first missed them and they
ran to completion)."""

import pytest
from conftest import text

from test_kernel_interrupt_own_cell import run_interrupted, run_ok, start, started

HOLD_BACK = "ipython_task_client._FLUSH_DELAY = 3600\n"   # the flush timer would send them in an hour
SEND_SOON = "ipython_task_client._FLUSH_DELAY = 0.005\n"
FAILURES = ("for i in ids:\n"
            "    r = tc.get_task_result(i)\n"
            "    print(i, type(r.failure).__name__, str(r.failure))\n")


@pytest.mark.timeout(180)
def test_treadle_stop_cancels_ipython_runs_not_sent_yet(any_kernel, tmp_path):
    k = any_kernel
    start(k, tmp_path)
    out = text(run_ok(k, HOLD_BACK + "ids = [tc.run(ipython_task('s%d' % i)) for i in range(3)]\n"
                                     "print('unsent', tc.connection.last_plan)"))
    assert "unsent None" in out, out
    outputs = run_ok(k, "%treadle stop")
    assert text(outputs).startswith("treadle: cancelled 3 tasks"), outputs
    lines = text(run_ok(k, SEND_SOON + "tc.barrier(ids)\n" + FAILURES, timeout=60)).splitlines()
    assert len(lines) == 3, lines
    for line in lines:
        assert " TaskAborted " in line and "cancelled by %treadle stop" in line, lines


@pytest.mark.timeout(180)
def test_an_interrupt_cancels_its_cells_ipython_runs_not_sent_yet(any_kernel, tmp_path):
    k = any_kernel
    marks = start(k, tmp_path)
    outputs = run_interrupted(k, HOLD_BACK + "ids = [tc.run(ipython_task('i%d' % i)) for i in range(2)]\n"
                                 "waiting('i')\ntime.sleep(600)", started(marks, "waiting-i"))
    assert "treadle: cancelled 2 tasks of this cell" in text(outputs, "stderr"), outputs
    lines = text(run_ok(k, SEND_SOON + "tc.barrier(ids)\n" + FAILURES, timeout=60)).splitlines()
    assert len(lines) == 2 and all(" TaskAborted " in line for line in lines), lines
