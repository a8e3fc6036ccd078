"""The exception a future's ``exception()`` returns, raised in a cell (``raise f.exception()``),
shows the cell's line, then the task's frames, and none of treadle's (not the ``exception`` or
fetch that caught it): native and SCOOP futures, in the treadle kernel and in ipykernel with
%load_ext treadle. Real kernels driven by jupyter_client."""

import re

import pytest

DEFINE = "import treadle\nfrom treadle.scoop import futures\n\ndef inv(x):\n    y = x - 3\n    return 1 / y\n"


@pytest.mark.parametrize("submit", ["treadle.submit", "futures.submit"])
def test_a_raised_exception_shows_the_cell_then_the_task(any_kernel, submit):
    reply, outputs, _ = any_kernel.run(DEFINE)
    assert reply["status"] == "ok", outputs
    defined_in = reply["execution_count"]
    _, messages = any_kernel.collect("f = {}(inv, 3)\nerror = f.exception()\nraise error".format(submit))
    [error] = [m["content"] for m in messages if m["msg_type"] == "error"]
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"]))
    assert error["ename"] == "ZeroDivisionError", shown
    assert "----> 3 raise error" in shown, shown
    assert re.search(r"Cell In ?\[{}\], line 6, in inv".format(defined_in), shown), shown
    assert "treadle/" not in shown and "exception" not in shown.replace("error = f.exception()", ""), shown
