"""``%%treadle submit`` with the futures of several APIs in one cell (docs/kernel.md, "What a
submit binds"): native and SCOOP futures become their results, HyperLoom's tasks their values,
all counted on the cell's progress line; a failing SCOOP future among healthy ones fails the
cell as a native one does (its own type, the task's frames, none of treadle's), in a live
kernel and in a notebook saved by nbclient. Real kernels driven by jupyter_client, 2 workers."""

import re

import pytest

from conftest import results, text, went_idle

SETUP = """\
%treadle workers 2 --cpus 1
import treadle
from treadle.scoop import futures
from treadle.loom.client import tasks

@treadle.task
def sq(x):
    return x * x

def inv(x):
    y = x - 3
    return 1 / y
"""
FAILING = "%%treadle submit\nparts = [futures.submit(inv, i) for i in range(6)]\nok = sq(4)\n"


def lines(messages):
    """The texts of the cell's progress line, in order."""
    return [m["content"]["data"]["text/plain"] for m in messages
            if m["msg_type"] in ("display_data", "update_display_data")
            and "treadle-progress" in m["content"]["data"].get("text/html", "")]


def ended(messages):
    return went_idle(messages) and any(" in " in line for line in lines(messages))


def test_the_futures_of_every_api_are_bound_and_counted(any_kernel):
    reply, outputs, _ = any_kernel.run(SETUP)
    assert reply["status"] == "ok", outputs
    _, messages = any_kernel.collect("%%treadle submit\n"
                                     "x = sq(7)\n"
                                     "y = futures.submit(pow, 2, 5)\n"
                                     "ys = [futures.submit(abs, -i) for i in range(3)]\n"
                                     "z = tasks.merge((tasks.const('a'), tasks.const('b')))\n", until=ended)
    # x, y, the 3 of ys, and HyperLoom's plan of 3 tasks.
    assert lines(messages)[-1].startswith("submit: 8/8 done, 0 failed"), lines(messages)
    reply, outputs, _ = any_kernel.run("print(x, y, ys, z)")
    assert text(outputs) == "49 32 [0, 1, 2] b'ab'\n", outputs


def shown_error(messages):
    [error] = [m["content"] for m in messages if m["msg_type"] == "error"]
    return error["ename"], error["evalue"], re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"]))


def test_a_failing_scoop_future_among_healthy_ones_fails_the_cell(kernel):
    reply, outputs, _ = kernel.run(SETUP)
    assert reply["status"] == "ok", outputs
    defined_in = reply["execution_count"]
    _, messages = kernel.collect(FAILING, until=ended)
    ename, evalue, shown = shown_error(messages)
    assert ename == "ZeroDivisionError" and "(inv)" in evalue, (ename, evalue)
    assert re.search(r"Cell In ?\[{}\], line 12, in inv".format(defined_in), shown), shown
    assert re.search(r"-+> 12     return 1 / y", shown), shown
    assert "treadle/" not in shown, shown
    assert lines(messages)[-1].startswith("submit: 6/7 done, 1 failed"), lines(messages)
    # Nothing bound (as for native futures): the futures stay, the healthy ones readable.
    reply, outputs, _ = kernel.run("print(type(parts[0]).__name__, parts[4].result(), ok.result())")
    assert text(outputs) == "Future 1.0 16\n", outputs


def test_a_scoop_map_binds_the_list_of_its_results(kernel):
    reply, outputs, _ = kernel.run(SETUP)
    assert reply["status"] == "ok", outputs
    _, messages = kernel.collect("%%treadle submit\nsizes = futures.map(abs, [-1, -2, 3])\n", until=ended)
    assert lines(messages)[-1].startswith("submit: 3/3 done, 0 failed"), lines(messages)
    reply, outputs, _ = kernel.run("print(sizes)")
    assert text(outputs) == "[1, 2, 3]\n", outputs
    # As the last expression: the cell's value.
    reply, outputs, _ = kernel.run("%%treadle submit\nfutures.map(abs, [-4, 5])\n")
    assert reply["status"] == "ok" and results(outputs)[-1]["text/plain"] == "[4, 5]", outputs
    # A generator it cannot bind (results as they end) is named, its calls said to run.
    reply, outputs, _ = kernel.run("%%treadle submit\nends = futures.map_as_completed(abs, [-6])\n",
                                   stop_on_error=False)
    assert reply["status"] == "error" and reply["ename"] == "UsageError", outputs
    assert "ends: a generator of results, whose calls run already; read it with list(...)" in \
        text(outputs, "stderr"), outputs


HELD = """\
import os, time

def held(i, go):
    if i == 1:
        raise KeyError("row {}".format(i))
    for _ in range(150):   # until the test says go; the fallback (15 s) only keeps a failing run from hanging
        if os.path.exists(go):
            return "released"
        time.sleep(0.1)
    return "gave up"
"""


def test_a_failing_scoop_future_fails_the_cell_before_the_others_end(kernel, tmp_path):
    go = str(tmp_path / "go")
    reply, outputs, _ = kernel.run(SETUP + HELD + "GO = {!r}\n".format(go))
    assert reply["status"] == "ok", outputs
    # The healthy futures wait until the test writes `go`, which it does once the cell failed.
    _, messages = kernel.collect("%%treadle submit\nparts = [futures.submit(held, i, GO) for i in range(4)]\n",
                                 until=went_idle, timeout=90)
    open(go, "w").close()
    ename, evalue, shown = shown_error(messages)
    assert ename == "KeyError" and "(held)" in evalue, (ename, evalue)
    reply, outputs, _ = kernel.run("print([p.result() for p in parts[:1] + parts[2:]])", timeout=60)
    assert text(outputs) == "['released', 'released', 'released']\n", outputs


@pytest.mark.timeout(180)
def test_a_saved_notebook_keeps_the_failing_cells_error_and_line(tmp_path):
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in (SETUP, FAILING, "print(parts[5].result())")]
    nb.cells[1].metadata["tags"] = ["raises-exception"]
    NotebookClient(nb, kernel_name="treadle", timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    nbformat.write(nb, str(tmp_path / "failing.ipynb"))
    cells = nbformat.read(str(tmp_path / "failing.ipynb"), as_version=4).cells
    outputs = cells[1].outputs
    [error] = [o for o in outputs if o.get("output_type") == "error"]
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"]))
    assert error["ename"] == "ZeroDivisionError" and re.search(r"-+> 12     return 1 / y", shown), shown
    assert "treadle/" not in shown, shown
    line = [o["data"]["text/plain"] for o in outputs if o.get("output_type") == "display_data"
            and "treadle-progress" in o["data"].get("text/html", "")]
    assert len(line) == 1 and line[0].startswith("submit: 6/7 done, 1 failed"), outputs
    assert "".join(o.get("text", "") for o in cells[2].outputs) == "0.5\n", cells[2].outputs
