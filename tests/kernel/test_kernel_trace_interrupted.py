"""The trace of an interrupted cell, as a notebook user gets it (the treadle kernel, and ipykernel
with %load_ext treadle): the task that ran until the interrupt cancelled it counts with the
time it ran, in "the last run" of %treadle trace and in its busy time (it was 0 µs: the
cancel was a mark at one moment, the run nothing else)."""

import os
import re
import time

from conftest import results

TASKS = r"""
import time, treadle

@treadle.task
def slow(x, marker):
    open(marker, "w").close()   # it runs now
    time.sleep(x)
    return x
"""

UNITS = {"µs": 1e-6, "ms": 1e-3, "s": 1.0}


def seconds(text):
    value, unit = text.split()
    return float(value) * UNITS[unit]


def ran_a_second(marker):
    """True once the task writing ``marker`` has run for a second (what the trace must show)."""
    def condition():
        try:
            return time.time() - os.path.getmtime(marker) >= 1.0
        except OSError:
            return False
    return condition


def test_the_last_run_counts_the_time_a_cancelled_task_ran(any_kernel, tmp_path):
    k = any_kernel
    for code in ("%treadle workers 1 --cpus 1", TASKS):
        reply, outputs, _ = k.run(code, timeout=60)
        assert reply["status"] == "ok", outputs
    marker = str(tmp_path / "running")
    code = "gs = [slow(30, {!r}) for i in range(4)]; treadle.wait(gs)".format(marker)
    reply, outputs, _ = k.run(code, timeout=60, interrupt_when=ran_a_second(marker), stop_on_error=False)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", outputs
    assert any("cancelled 4 tasks of this cell" in o[1] for o in outputs if o[0] == "stderr"), outputs
    reply, outputs, _ = k.run("%treadle trace", timeout=60)
    assert reply["status"] == "ok", outputs
    summary = results(outputs)[-1]["text/plain"].splitlines()[0]
    found = re.search(r"trace of the last run: .* cancelled, .*transfers, (.+) \(busy (.+)\)", summary)
    assert found, summary
    span, busy = seconds(found.group(1)), seconds(found.group(2))
    assert busy >= 0.9 and span >= busy, summary   # the running task's second at least, until its cancel
