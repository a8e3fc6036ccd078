"""A task's exception in a notebook, in the treadle kernel and in ipykernel with %load_ext
treadle: ``except ZeroDivisionError`` catches it in a cell, and the error a cell shows reads
like a local one: the cell's name and source line for a function defined in a cell, no frame
of treadle's own code."""

import re

from conftest import errors, text

DEFINE = "def inv(x):\n    y = x - 3\n    return 1 / y\n"


def shown_error(kernel, code):
    """The error message a cell publishes: (ename, evalue, traceback text without colours)."""
    _, messages = kernel.collect(code)
    [error] = [m["content"] for m in messages if m["msg_type"] == "error"]
    return error["ename"], error["evalue"], re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"]))


def test_a_cell_catches_the_tasks_exception_type(any_kernel):
    reply, outputs, _ = any_kernel.run(DEFINE)
    assert reply["status"] == "ok", outputs
    reply, outputs, _ = any_kernel.run(
        "import treadle\n"
        "try:\n"
        "    treadle.submit(inv, 3).result()\n"
        "except ZeroDivisionError as error:\n"
        "    print('caught', type(error).__name__, isinstance(error, treadle.TaskError), error.args)\n")
    assert reply["status"] == "ok" and not errors(outputs), outputs
    assert "caught ZeroDivisionError True ('division by zero',)\n" in text(outputs)


def test_the_traceback_names_the_cell_and_shows_its_source(any_kernel):
    reply, outputs, _ = any_kernel.run(DEFINE)
    assert reply["status"] == "ok", outputs
    defined_in = reply["execution_count"]
    ename, evalue, shown = shown_error(any_kernel, "import treadle\nf = treadle.submit(inv, 3)\nf.result()")
    assert ename == "ZeroDivisionError"
    assert "ZeroDivisionError: division by zero" in evalue and "(inv)" in evalue
    # The task's frame: the cell it was defined in, its line, its source.
    assert re.search(r"Cell In ?\[{}\], line 3, in inv".format(defined_in), shown), shown
    assert "----> 3     return 1 / y" in shown
    assert "xpython_" not in shown and "ipykernel_" not in shown  # not the cell's file name
    # No frame of treadle's: not the client's (result, gather) nor the executor's.
    assert "treadle/" not in shown and "executor" not in shown, shown
    assert shown.index("f.result()") < shown.index("return 1 / y")  # the call, then the task


def test_a_task_cell_shows_its_own_failing_line(kernel):
    reply, outputs, _ = kernel.run("import treadle")
    assert reply["status"] == "ok", outputs
    ename, evalue, shown = shown_error(kernel, "%%treadle task\nx = 1\ny = x / 0\n")
    assert ename == "ZeroDivisionError" and "(cell)" in evalue
    assert "----> 2 y = x / 0" in shown, shown  # the task cell's line, from the worker
    assert "treadle/" not in shown, shown


WITH_CODE = ("class WithCode(ValueError):\n"
             "    def __init__(self, msg, code):\n"
             "        super().__init__(msg)\n"
             "        self.code = code\n"
             "\n"
             "def coded(x):\n"
             "    raise WithCode('bad {}'.format(x), 42)\n")


def test_an_exception_whose_init_takes_more_than_its_args_keeps_its_type(any_kernel):
    # Unpickling it calls WithCode('bad 7'), which lacks `code`: it is remade without __init__.
    reply, outputs, _ = any_kernel.run("import treadle\n" + WITH_CODE)
    assert reply["status"] == "ok", outputs
    defined_in = reply["execution_count"]
    reply, outputs, _ = any_kernel.run(
        "try:\n"
        "    treadle.submit(coded, 7).result()\n"
        "except WithCode as error:\n"
        "    print('caught', type(error).__name__, error.code, error.args, isinstance(error, treadle.TaskError))\n")
    assert reply["status"] == "ok" and not errors(outputs), outputs
    assert "caught WithCode 42 ('bad 7',) True\n" in text(outputs)
    ename, evalue, shown = shown_error(any_kernel, "treadle.submit(coded, 7).result()")
    assert ename == "WithCode" and "WithCode: bad 7" in evalue, (ename, evalue)
    assert re.search(r"Cell In ?\[{}\], line 8, in coded".format(defined_in), shown), shown
    assert "treadle/" not in shown and "xpython_" not in shown and "ipykernel_" not in shown, shown


def test_a_failed_submit_cell_shows_the_tasks_frames_not_the_magics(any_kernel):
    reply, outputs, _ = any_kernel.run(
        "import treadle\n"
        "@treadle.task\n"
        "def f(x):\n"
        "    if x == 5000:\n"
        "        raise ValueError('too big')\n"
        "    return x\n")
    assert reply["status"] == "ok", outputs
    defined_in = reply["execution_count"]
    ename, evalue, shown = shown_error(any_kernel, "%%treadle submit --name job\nparts = [f(i) for i in (1, 5000, 2)]\n")
    assert ename == "ValueError" and "too big" in evalue, (ename, evalue)
    # The same frames as .result() shows: the task's, in the cell that defined it; none of treadle's.
    assert re.search(r"Cell In ?\[{}\], line 5, in f".format(defined_in), shown), shown
    assert "----> 5         raise ValueError('too big')" in shown, shown
    assert "submit.py" not in shown and "treadle/" not in shown, shown
    # The failed future says so, under the task id the message names.
    [failed_id] = re.findall(r"Task id=(\d+)", evalue)
    reply, outputs, _ = any_kernel.run("print(parts[1])")
    assert reply["status"] == "ok", outputs
    assert "<treadle.Future f-1 (task {}) failed>".format(failed_id) in text(outputs), (evalue, outputs)
