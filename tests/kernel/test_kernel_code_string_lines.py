"""The lines a failing code string shows in a notebook are its own (docs/kernel.md): each
``%%treadle task`` cell and each IPython task's code has a pseudo-file of its own
(``<treadle cell 1a2b3c4d>``, runtime.code_strings), whose whole source the client has, so a
second failing cell never shows the first one's line at the same number, context lines are
not blank, and a later syntax error shows its own line and caret. Both kernels, with
``%treadle workers 2 --cpus 1``."""

import re


def shown_error(kernel, code):
    """(ename, traceback text without colours) of the error a cell publishes."""
    _, messages = kernel.collect(code)
    [error] = [m["content"] for m in messages if m["msg_type"] == "error"]
    return error["ename"], re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"]))


def test_each_task_cell_and_ipython_task_shows_its_own_lines(any_kernel):
    reply, outputs, _ = any_kernel.run("%treadle workers 2 --cpus 1")
    assert reply["status"] == "ok", outputs
    ename, shown = shown_error(any_kernel, "%%treadle task\nimport math\nx = 1\ny = math.sqrt(-x)\n")
    assert ename == "ValueError" and "----> 3 y = math.sqrt(-x)" in shown, shown
    ename, shown = shown_error(any_kernel, "%%treadle task\nrows = [1, 2]\nfirst = rows[0]\nthird = rows[2]\n")
    assert ename == "IndexError" and "----> 3 third = rows[2]" in shown, shown
    assert "math.sqrt" not in shown and re.search(r"^      2 first = rows\[0\]$", shown, flags=re.M), shown
    assert re.search(r"<treadle cell [0-9a-f]{8}>", shown), shown
    # A syntax error after those failures: its own line and a caret under the open parenthesis.
    ename, shown = shown_error(any_kernel, "%%treadle task\nz = (1,\n")
    assert ename == "SyntaxError" and re.search(r"^    z = \(1,\n\s*\^$", shown, flags=re.M), shown
    # An IPython task: its own line with its context (the first line of a def, not blank).
    ename, shown = shown_error(any_kernel, (
        "from treadle.ipython import client as ipc\n"
        "tc = ipc.TaskClient()\n"
        "a = tc.run(ipc.Task('total = undefined_a + 1'))\n"
        "b = tc.run(ipc.Task('def f(a):\\n    return a[3]\\ny = f([1])'))\n"
        "tc.barrier([a, b])\n"
        "tc.get_task_result(b).raise_exception()\n"))
    assert ename == "IndexError" and re.search(r"^----> 3 y = f\(\[1\]\)$", shown, flags=re.M), shown
    assert re.search(r"^      1 def f\(a\):$", shown, flags=re.M), shown
    assert re.search(r"^----> 2     return a\[3\]$", shown, flags=re.M) and "undefined_a" not in shown, shown
    ename, shown = shown_error(any_kernel, "tc.get_task_result(a).raise_exception()\n")
    assert ename == "NameError" and re.search(r"^----> 1 total = undefined_a \+ 1$", shown, flags=re.M), shown
    assert "return a[3]" not in shown, shown
