"""Real kernels driven by jupyter_client: tasks from cells, the %treadle magics, interrupts,
shutdown without orphans, and %load_ext treadle in Debian's ipykernel."""

import re
import time

import psutil
import pytest

from conftest import STARTED, Kernel, alive, errors, results, text

TASK_CELL = """\
import treadle

@treadle.task
def square(x):
    print("squaring", x)
    return x * x

print("result:", square(7).result())
"""


def worker_processes(procs):
    out = []
    for p in alive(procs):
        try:
            name = p.name()
            cmd = " ".join(p.cmdline())
        except psutil.Error:
            continue
        if name == "treadle-worker" or "treadle.executor" in cmd:
            out.append(p)
    return out


def test_task_from_a_cell_starts_workers_and_returns(kernel):
    reply, outputs, _ = kernel.run(TASK_CELL)
    assert reply["status"] == "ok", outputs
    out = text(outputs)
    assert "result: 49" in out
    started = STARTED.search(out)
    assert started, out
    assert int(started.group(1)) == (psutil.cpu_count() or 1)
    assert "squaring 7" in out  # what the task printed, marked with its task
    # A second submission reuses them, and says nothing.
    reply, outputs, _ = kernel.run("print(sum(treadle.map(square, range(10))))")
    assert text(outputs).strip().endswith("285")
    assert not STARTED.search(text(outputs))


def test_workers_magic_then_status(kernel):
    reply, outputs, _ = kernel.run("%treadle workers 2 --cpus 1")
    assert reply["status"] == "ok", outputs
    assert "started 2 local workers" in text(outputs)
    reply, outputs, _ = kernel.run("%treadle status")
    [data] = results(outputs)
    assert "2 workers" in data["text/plain"]
    assert "<table>" in data["text/html"] and data["text/html"].count("<tr>") == 3
    # Explicit workers mean no automatic ones on the first submission.
    reply, outputs, _ = kernel.run(TASK_CELL)
    assert "result: 49" in text(outputs) and not STARTED.search(text(outputs))
    # Each worker's cpu use and memory, from its samples (every 0.5 s: wait for one). A bare
    # %treadle is %treadle status.
    deadline = time.monotonic() + 10
    while True:
        reply, outputs, _ = kernel.run("%treadle")
        [data] = results(outputs)
        rows = [line for line in data["text/plain"].splitlines() if "tcp://" in line]
        if all(re.search(r"\d+ % +[\d.]+ MiB \(", r) for r in rows) or time.monotonic() > deadline:
            break
    assert reply["status"] == "ok" and "2 workers" in data["text/plain"], outputs
    assert len(rows) == 2 and all(re.search(r"\d+ % +[\d.]+ MiB \(", r) for r in rows), data["text/plain"]
    reply, outputs, _ = kernel.run("%treadle workers --stop")
    assert "stopped 2 local workers" in text(outputs)
    deadline = time.monotonic() + 10
    while worker_processes(kernel.processes()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not worker_processes(kernel.processes())


@pytest.mark.parametrize("line", ["%treadle workers", "%treadle workers 0", "%treadle workers two",
                                  "%treadle workers 2 --cpus", "%treadle status now", "%treadle frobnicate",
                                  "%%treadle submit\nx = 1"])
def test_wrong_usage_is_a_one_line_error(kernel, line):
    reply, outputs, _ = kernel.run(line)
    # As in ipykernel: the cell fails (Run All stops there), shown as one line, no traceback.
    assert reply["status"] == "error" and reply["ename"] == "UsageError", reply
    assert not errors(outputs)
    err = text(outputs, "stderr")
    assert err.startswith("UsageError:") and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("line, meant", [("%treadle stauts", "'status'"), ("%treadle workers 2 --cpu 1", "'--cpus'"),
                                         ("%%treadle sumbit\nx = 1", "'submit'"), ("%treadle grpah", "'graph'")])
def test_a_mistyped_word_gets_did_you_mean(kernel, line, meant):
    reply, outputs, _ = kernel.run(line)
    assert reply["status"] == "error" and reply["ename"] == "UsageError", reply
    err = text(outputs, "stderr")
    assert "did you mean " + meant in err and len(err.strip().splitlines()) == 1, err


def test_interrupt_sleep(kernel):
    reply, outputs, seconds = kernel.run("import time\ntime.sleep(10)", interrupt_after=0.5)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt"
    assert seconds < 10, seconds  # the interrupt cut the sleep short
    reply, outputs, _ = kernel.run("print('still alive')")
    assert text(outputs) == "still alive\n"


def test_interrupt_waiting_on_a_task(kernel):
    kernel.run("%treadle workers 2")  # the interrupted task goes on running on one of them
    code = "import treadle, time\nf = treadle.submit(time.sleep, 30)\nf.result()"
    reply, outputs, seconds = kernel.run(code, interrupt_after=1.0)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", outputs
    assert seconds < 30, seconds  # the wait was cut short, not the task
    # The interrupt went to the kernel, not to its workers (they run in their own sessions).
    assert len(worker_processes(kernel.processes())) >= 1
    reply, outputs, _ = kernel.run("print(treadle.submit(abs, -3).result())")
    assert text(outputs).strip() == "3"


def test_output_of_other_threads_reaches_the_cell(kernel):
    code = ("import threading, time\n"
            "def later():\n    time.sleep(0.2)\n    print('from a thread')\n"
            "t = threading.Thread(target=later)\nt.start()\nprint('started')\nt.join()\ntime.sleep(0.2)")
    reply, outputs, _ = kernel.run(code)
    assert text(outputs) == "started\nfrom a thread\n"


def test_shutdown_leaves_no_processes(kernel):
    kernel.run("%treadle workers 2")
    reply, outputs, _ = kernel.run(TASK_CELL)  # starts executors on a worker
    assert "result: 49" in text(outputs)
    procs = kernel.processes()
    assert len(worker_processes(procs)) >= 3, procs  # 2 workers and an executor
    kernel_proc = psutil.Process(kernel.pid)
    kernel.shutdown()
    deadline = time.monotonic() + 5
    while alive(procs + [kernel_proc]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(procs + [kernel_proc])


def test_restart_stops_the_old_workers(kernel):
    reply, outputs, _ = kernel.run(TASK_CELL)
    old = worker_processes(kernel.processes())
    assert old
    kernel.km.restart_kernel()
    kernel.kc.wait_for_ready(timeout=30)
    deadline = time.monotonic() + 5
    while alive(old) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(old)
    reply, outputs, _ = kernel.run(TASK_CELL)
    assert "result: 49" in text(outputs)


def test_load_ext_in_ipykernel(ipykernel):
    reply, outputs, _ = ipykernel.run("import treadle\nhasattr(treadle, 'load_ipython_extension')")
    name = "treadle" if results(outputs)[0]["text/plain"] == "True" else "treadle.magics"
    reply, outputs, _ = ipykernel.run("%load_ext " + name)
    assert reply["status"] == "ok", outputs
    reply, outputs, _ = ipykernel.run(TASK_CELL)
    assert reply["status"] == "ok", outputs
    assert "result: 49" in text(outputs) and STARTED.search(text(outputs))
    reply, outputs, _ = ipykernel.run("%treadle workers 1\n%treadle status")
    assert "in this process" in results(outputs)[0]["text/plain"]
    procs = ipykernel.processes()
    assert worker_processes(procs)
    ipykernel.shutdown()
    deadline = time.monotonic() + 8
    while worker_processes(procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not worker_processes(procs)
    if name != "treadle":
        pytest.xfail("treadle/__init__.py does not re-export load_ipython_extension yet "
                     "(%load_ext treadle.magics was used)")


def test_hard_kill_leaves_no_processes(kernel):
    # SIGKILL gives the kernel no chance to stop anything: its workers die with it
    # (PR_SET_PDEATHSIG), and their executors with them.
    kernel.run("%treadle workers 2")
    reply, outputs, _ = kernel.run(TASK_CELL)
    procs = kernel.processes()
    assert len(worker_processes(procs)) >= 3
    kernel.kc.stop_channels()
    kernel.km.shutdown_kernel(now=True)
    deadline = time.monotonic() + 10
    while alive(procs) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(procs)


PUBLISH_LATER = """\
import threading, time
from treadle.notebook import kernel as kernel_support
pub = kernel_support.publisher()
def later():
    time.sleep(0.3)
    pub.display({"text/plain": "published later"}, display_id="late")
threading.Thread(target=later).start()
"""


@pytest.mark.parametrize("name", ["treadle", "python3"])
def test_publishing_from_a_thread_after_the_cell(name):
    k = Kernel(name)
    try:
        if name == "python3":
            k.run("%load_ext treadle.magics")
        msg_id = k.kc.execute(PUBLISH_LATER)
        deadline = time.monotonic() + 10
        found = None
        while found is None and time.monotonic() < deadline:
            try:
                msg = k.kc.get_iopub_msg(timeout=1)
            except Exception:
                continue
            if msg["msg_type"] == "display_data":
                found = msg
        assert found is not None
        assert found["parent_header"]["msg_id"] == msg_id
        assert found["content"]["data"]["text/plain"] == "published later"
        assert found["content"]["transient"]["display_id"] == "late"
    finally:
        k.shutdown()


ORPHANING_CLIENT = """\
import sys, time
sys.path.insert(0, {here!r})
from conftest import Kernel
k = Kernel("treadle")
k.run("%treadle workers 1")
print(k.pid, flush=True)
time.sleep(60)
"""


def test_kernel_exits_when_its_client_dies():
    # Like ipykernel: a kernel whose launching process died (no shutdown_request) exits, and
    # takes its workers along.
    import os
    import subprocess
    import sys
    here = os.path.dirname(os.path.abspath(__file__))
    client = subprocess.Popen([sys.executable, "-c", ORPHANING_CLIENT.format(here=here)],
                              stdout=subprocess.PIPE, text=True)
    try:
        kernel_pid = int(client.stdout.readline())
        kernel_proc = psutil.Process(kernel_pid)
        procs = [kernel_proc] + kernel_proc.children(recursive=True)
        assert worker_processes(procs)
    finally:
        client.kill()
        client.wait()
        client.stdout.close()
    deadline = time.monotonic() + 10
    while alive(procs) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(procs)


WAIT_UNASKED = """\
import time, treadle
from treadle.loom.client import Client as Observer

observer = Observer(*treadle.default_client().address)   # the future's own client hears nothing
def ended_as(future, state):
    while observer.states([future.task_id])[0] != state:
        time.sleep(0.05)

def boom():
    raise ValueError("no")

ok, bad = treadle.submit(int, "5"), treadle.submit(boom)
ended_as(ok, "finished")
ended_as(bad, "failed")
"""


def test_a_future_evaluated_after_its_task_ended_reads_finished_or_failed(any_kernel):
    """A user who evaluates a future in a cell after its task ended (its result never fetched)
    reads how it ended, not "submitted"."""
    reply, outputs, _ = any_kernel.run(WAIT_UNASKED, timeout=60)
    assert reply["status"] == "ok", outputs
    for name, state in (("ok", "finished"), ("bad", "failed")):
        reply, outputs, _ = any_kernel.run(name)
        assert reply["status"] == "ok", outputs
        shown = results(outputs)[0]["text/plain"]
        assert re.fullmatch(r"<treadle.Future \w+-\d+ \(task \d+\) {}>".format(state), shown), shown
