"""IPython tasks routed by ``depend`` run while the notebook is idle: a cell submits more than
the engines take at once and ends; the queued tasks go on as engines free, with no cell running
(the test watches a file they write); a later cell finds them all done (docs/ipython.md,
"Dependencies")."""

import time

from conftest import text

N = 8

SUBMIT = """\
from treadle.ipython import client
tc = client.TaskClient(client.default_task_address)
code = "import os, time\\nopen({log!r}, 'a').write('%d\\\\n' % n)\\ntime.sleep(0.05)\\n"
ids = [tc.run(client.Task(code, push={{"n": i}}, pull="n", depend=lambda p: True)) for i in range({n})]
print("submitted", len(ids))
"""

CHECK = """\
tc.barrier(ids)
print(tc.queue_status())
print(sorted(tc.get_task_result(i).ns.n for i in ids))
"""


def ran(log):
    return sorted(int(n) for n in log.read_text().split()) if log.exists() else []


def test_routed_tasks_run_while_no_cell_runs(kernel, tmp_path):
    reply, outputs, _ = kernel.run("%treadle workers 2 --cpus 1", timeout=60)
    assert reply["status"] == "ok", outputs
    log = tmp_path / "runs"
    reply, outputs, _ = kernel.run(SUBMIT.format(log=str(log), n=N), timeout=60)
    assert reply["status"] == "ok" and "submitted {}".format(N) in text(outputs), outputs
    # The cell has ended: nothing calls the client now.
    deadline = time.monotonic() + 60
    while ran(log) != list(range(N)):
        assert time.monotonic() < deadline, "only {} ran while the notebook was idle".format(ran(log))
        assert len(ran(log)) <= N, ran(log)
        time.sleep(0.05)
    reply, outputs, _ = kernel.run(CHECK, timeout=60)
    assert reply["status"] == "ok", outputs
    out = text(outputs).splitlines()
    assert out[-2:] == ["{{'scheduled': 0, 'pending': 0, 'succeeded': {0}, 'failed': 0}}".format(N),
                        str(list(range(N)))], out
    assert ran(log) == list(range(N))   # each once


GATED = """\
gate = {gate!r}
code = "import os, time\\nopen({log!r}, 'a').write('%d\\\\n' % n)\\nwhile not os.path.exists(gate):\\n    time.sleep(0.01)\\n"
ids = [tc.run(client.Task(code, push={{"n": i, "gate": gate}}, depend=lambda p: True)) for i in range(6)]
tc.barrier(ids)
"""

OUTCOMES = """\
tc.barrier(ids)
print([type(tc.get_task_result(i).failure).__name__ for i in ids])
"""


def test_an_interrupt_ends_the_routed_tasks_queued_in_the_client(kernel, tmp_path):
    """The cell's routed tasks that wait in the client for an engine are cancelled with the ones
    running: they are not sent after the interrupt, whoever moves the client on."""
    reply, outputs, _ = kernel.run("%treadle workers 2 --cpus 1", timeout=60)
    assert reply["status"] == "ok", outputs
    log, gate = tmp_path / "runs", tmp_path / "gate"
    reply, outputs, _ = kernel.run(SUBMIT.format(log=str(tmp_path / "warm"), n=2), timeout=60)
    assert reply["status"] == "ok", outputs
    reply, outputs, _ = kernel.run(GATED.format(gate=str(gate), log=str(log)), stop_on_error=False, timeout=60,
                                   interrupt_when=lambda: len(ran(log)) == 2)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", outputs
    gate.touch()
    reply, outputs, _ = kernel.run(OUTCOMES, timeout=60)
    assert reply["status"] == "ok", outputs
    assert text(outputs).splitlines()[-1] == str(["TaskAborted"] * 6), outputs
    assert len(ran(log)) == 2, ran(log)   # the 4 queued never ran
