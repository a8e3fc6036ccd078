"""IPython's task interface in the treadle kernel: %%treadle px runs a cell on every engine, and
treadle.ipython's clients find the kernel's own server as client.default_task_address."""

import re

from conftest import errors, text

PX_CELL = """\
%%treadle px
import os
x = 5
print("engine pid", os.getpid())
"""


def test_px_runs_a_cell_on_every_engine_and_tasks_see_its_names(kernel):
    reply, outputs, _ = kernel.run(PX_CELL, timeout=60)
    assert reply["status"] == "ok", outputs
    lines = re.findall(r"\[task \d+ engine (\d+)\] engine pid (\d+)", text(outputs))
    engines = sorted(int(e) for e, _ in lines)
    assert engines and engines == list(range(len(engines))), text(outputs)
    assert len({pid for _, pid in lines}) == len(lines), "two engines in one process"
    reply, outputs, _ = kernel.run("%%treadle px --targets 0\nprint('twice', x * 2)")
    assert reply["status"] == "ok", outputs
    assert re.findall(r"\[task \d+ engine (\d+)\] twice 10", text(outputs)) == ["0"]
    reply, outputs, _ = kernel.run(
        "import treadle\n"
        "from treadle.ipython import client\n"
        "print(client.default_task_address == treadle.default_client().address)\n"
        "tc = client.TaskClient(client.default_task_address)\n"
        "ids = [tc.run(client.Task('y = x + 1', pull='y')) for _ in range(4)]\n"
        "tc.barrier(ids)\n"
        "print([tc.get_task_result(i).ns.y for i in ids])\n")
    assert reply["status"] == "ok", outputs
    assert text(outputs).split("\n")[-3:-1] == ["True", "[6, 6, 6, 6]"], text(outputs)


def test_px_errors(kernel):
    reply, outputs, _ = kernel.run("%%treadle px\n1/0", stop_on_error=False)
    assert reply["status"] == "error" and "ZeroDivisionError" in str(errors(outputs))
    reply, outputs, _ = kernel.run("%%treadle px --targets 99\nx = 1", stop_on_error=False)
    assert reply["status"] == "error"   # a UsageError: one line on stderr, with the usage
    assert "no engine with id 99" in text(outputs, "stderr") and "usage: %%treadle px" in text(outputs, "stderr")
    reply, outputs, _ = kernel.run("%%treadle px --targets zero\nx = 1", stop_on_error=False)
    assert reply["status"] == "error" and "engine ids separated by commas" in text(outputs, "stderr")
    reply, outputs, _ = kernel.run("%%treadle px\nif", stop_on_error=False)
    assert reply["status"] == "error" and "SyntaxError" in str(errors(outputs))
    reply, outputs, _ = kernel.run("print('still here')")
    assert "still here" in text(outputs)


def test_px_a_cell_that_kills_its_engine_fails_once(kernel):
    """The engine's executor dies under the cell: the cell fails saying so, and is not run again
    (its copies are not sent again as if the engine had been busy)."""
    reply, outputs, _ = kernel.run("%%treadle px --targets 0\nimport os\nprint('killing', os.getpid())\n"
                                   "os.kill(os.getpid(), 9)", stop_on_error=False, timeout=60)
    assert reply["status"] == "error" and "signal 9" in str(errors(outputs)), outputs
    assert len(re.findall(r"killing \d+", text(outputs))) <= 1, text(outputs)
    reply, outputs, _ = kernel.run("%%treadle px --targets 0\nprint('alive again')", timeout=60)
    assert reply["status"] == "ok" and "alive again" in text(outputs), outputs
