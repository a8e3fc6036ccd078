"""An interrupt that comes while the kernel is idle (Kernel > Interrupt pressed just after a cell
ended) is harmless, as in ipykernel: the next cell runs, and the tasks an earlier cell left
running are not cancelled. In the treadle kernel, threads that Python started during a cell
(treadle's own) kept SIGINT open, so an idle interrupt was noted by Python's handler and the next
cell failed before its code ran ("KernelError: KeyboardInterrupt: <EMPTY MESSAGE>")."""

import os
import signal
import time

import pytest
from conftest import text

from test_kernel_interrupt_own_cell import run_ok, start


def sigint_pending(pid):
    """A SIGINT not yet handled by the process or by one of its threads."""
    bit = 1 << (signal.SIGINT - 1)
    tasks = os.listdir("/proc/{}/task".format(pid))
    for tid in tasks:
        try:
            status = open("/proc/{}/task/{}/status".format(pid, tid)).read()
        except OSError:
            continue   # the thread ended
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        if (int(fields["SigPnd"], 16) | int(fields["ShdPnd"], 16)) & bit:
            return True
    return False


def wait_delivered(pid, timeout=10):
    deadline = time.monotonic() + timeout
    while sigint_pending(pid):
        assert time.monotonic() < deadline, "SIGINT still pending after {} s".format(timeout)
        time.sleep(0.01)


@pytest.mark.timeout(120)
def test_an_interrupt_while_idle_leaves_the_next_cell_and_running_tasks_alone(any_kernel, tmp_path):
    k = any_kernel
    start(k, tmp_path)
    # Two workers of one CPU: one task of IPython's API, one native, both running until GO.
    run_ok(k, "ids = [tc.run(ipython_task('t0', gated=True))]\n"
              "import treadle\n"
              "def gated(tag):\n"
              "    open(os.path.join(MARKS, tag), 'w').close()\n"
              "    while not os.path.exists(GO): time.sleep(0.05)\n"
              "    return tag\n"
              "native = [treadle.submit(gated, 'n0')]")
    run_ok(k, "until_started('t0', 'n0')", timeout=60)
    run_ok(k, "x = 1")
    for _ in range(3):   # idle: no cell runs, the tasks do
        k.km.interrupt_kernel()
        wait_delivered(k.pid)
    reply, outputs, _ = k.run("print('after', x)")
    assert reply["status"] == "ok", (reply, outputs)
    assert text(outputs) == "after 1\n"
    open(str(tmp_path / "go"), "w").close()
    outputs = run_ok(k, "tc.barrier(ids)\n"
                        "print([tc.get_task_result(i).results for i in ids], treadle.gather(native))", timeout=60)
    assert text(outputs) == "[{'r': 't0'}] ['n0']\n", outputs
