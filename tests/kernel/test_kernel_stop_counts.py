"""%treadle stop and an interrupt cancel every call the user submitted, also those a client still
held back (IPython's tc.run sends from a flush timer: a stop that came first missed them and they
ran to completion), and count only the user's tasks: not the pickled function or runner a client
sends along for its own calls, and not tasks that had failed (no result of theirs stays). The
tasks that had ended are counted in the cells the stop cancelled something in only: the results
of earlier cells' finished work are not news."""

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
    assert text(outputs) == "treadle: cancelled 3 tasks\n", outputs
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


@pytest.mark.timeout(180)
def test_treadle_stop_counts_the_users_rain_tasks_only(any_kernel, tmp_path):
    k = any_kernel
    start(k, tmp_path)
    run_ok(k, "s = rc.new_session()\nwith s.bind_only():\n    naps = [rain_sleeper('rn%d' % i) for i in range(3)]\n"
              "for t in naps:\n    t.output.keep()\ns.submit()")
    outputs = run_ok(k, "until_started('rn')\n%treadle stop", timeout=60)
    assert text(outputs) == "treadle: cancelled 3 tasks\n", outputs   # not the session's runner


@pytest.mark.timeout(180)
def test_treadle_stop_says_only_finished_results_stay(any_kernel, tmp_path):
    k = any_kernel
    start(k, tmp_path)
    # Ended: one Rain task with its output kept (its result stays), two IPython tasks that failed.
    out = text(run_ok(k, "@remote()\ndef quick(ctx):\n    return b'q'\n"
                         "s1 = rc.new_session()\nwith s1.bind_only():\n    done = quick()\n"
                         "done.output.keep()\ns1.submit()\ns1.wait_all()\n"
                         "from treadle.ipython.client import Task as IPTask\n"
                         "failed = [tc.run(IPTask('raise ValueError(%d)' % i)) for i in range(2)]\n"
                         "try:\n    tc.barrier(failed)\nexcept Exception as e:\n    pass\n"
                         "print(tc.queue_status())\n"
                         # In the same cell: ended tasks count only in the cells the stop cancels in.
                         "running = [tc.run(ipython_task('f%d' % i)) for i in range(2)]\nuntil_started('f0', 'f1')",
                  timeout=60))
    assert "'succeeded': 0, 'failed': 2" in out, out
    outputs = run_ok(k, "%treadle stop")
    assert text(outputs) == "treadle: cancelled 2 tasks (1 had ended: their results stay)\n", outputs


@pytest.mark.timeout(180)
def test_treadle_stop_does_not_count_earlier_cells_ended_tasks(any_kernel, tmp_path):
    """tryout8 F12: after cells whose work had ended (native tasks, an IPython execute), a stop
    of a cell's running Rain tasks said "(4 had ended: their results stay)" of those old tasks,
    and the next stop of SCOOP futures said the same again."""
    k = any_kernel
    start(k, tmp_path)
    run_ok(k, "import treadle\ndone = [treadle.submit(abs, -i) for i in range(3)]\ntreadle.wait(done)\n"
              "mec = client.MultiEngineClient()\nmec.execute('y = 1', targets=0)", timeout=60)
    run_ok(k, "s = rc.new_session()\nwith s.bind_only():\n    naps = [rain_sleeper('st%d' % i) for i in range(4)]\n"
              "for t in naps:\n    t.output.keep()\ns.submit()")
    outputs = run_ok(k, "%treadle stop")
    assert text(outputs) == "treadle: cancelled 4 tasks\n", outputs
    run_ok(k, "from treadle.scoop import futures\ndef w(x):\n    time.sleep(600)\n"
              "fs = [futures.submit(w, i) for i in range(3)]")
    outputs = run_ok(k, "%treadle stop")
    assert text(outputs) == "treadle: cancelled 3 tasks\n", outputs
    outputs = run_ok(k, "print([f.cancelled() for f in fs], [d.result() for d in done])")
    assert text(outputs) == "[True, True, True] [0, 1, 2]\n", outputs
