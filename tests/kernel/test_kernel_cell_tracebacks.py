"""A failing cell that went through treadle shows no frame of treadle's nor IPython's machinery
around a cell magic (docs/kernel.md): a ``%%treadle task`` or ``%%treadle submit`` cell's
failure is the task's frames (no ``get_ipython().run_cell_magic(...)``, no interactiveshell.py,
no "skipping hidden frames"), a ``%%treadle px`` failure the engine's code, a syntax error in a
task cell its line and caret as an ordinary cell's, an unpicklable ``--pull`` names the variable,
and an interrupted wait shows the cell's line only. Both kernels, ``%treadle workers 2 --cpus 1``."""

import os
import re

MACHINERY = ("treadle/", "interactiveshell.py", "run_cell_magic", "skipping hidden", "cloudpickle", "IPython/")


def shown_error(kernel, code):
    """(ename, traceback text without colours) of the error a cell publishes."""
    _, messages = kernel.collect(code)
    [error] = [m["content"] for m in messages if m["msg_type"] == "error"]
    return error["ename"], re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"]))


def assert_no_machinery(shown):
    for word in MACHINERY:
        assert word not in shown, (word, shown)


def test_task_px_and_submit_cells_show_only_the_cells_and_tasks_frames(any_kernel):
    reply, outputs, _ = any_kernel.run("%treadle workers 2 --cpus 1")
    assert reply["status"] == "ok", outputs
    ename, shown = shown_error(any_kernel, "%%treadle task\nx = 1\ny = x / 0\n")
    assert ename == "ZeroDivisionError" and "----> 2 y = x / 0" in shown, shown
    assert_no_machinery(shown)
    ename, shown = shown_error(any_kernel, "%%treadle px\nw = 1/0\n")
    assert ename == "ZeroDivisionError" and "----> 1 w = 1/0" in shown, shown
    assert_no_machinery(shown)
    ename, shown = shown_error(any_kernel, "%%treadle task\nz = (1,\n")
    assert ename == "SyntaxError" and re.search(r"^    z = \(1,\n\s*\^$", shown, flags=re.M), shown
    assert_no_machinery(shown)
    ename, shown = shown_error(any_kernel, "%%treadle task --pull lk,n\nimport threading\nn = 1\nlk = threading.Lock()\n")
    assert ename == "TypeError" and "pull['lk'] (a _thread.lock) cannot be pickled" in shown, shown
    assert_no_machinery(shown)
    reply, outputs, _ = any_kernel.run(
        "import treadle\n"
        "def train(i):\n"
        "    if i == 3:\n"
        "        raise ValueError('diverged')\n"
        "    return i\n")
    assert reply["status"] == "ok", outputs
    defined_in = reply["execution_count"]
    # The cell's line, that of the assignment whose futures failed, then the task's frames.
    reply, outputs, _ = any_kernel.run("%%treadle submit\nok = treadle.submit(train, 1)\n"
                                       "parts = [treadle.submit(train, i) for i in range(6)]\nmore = 2\n")
    assert reply["status"] == "error" and reply["ename"] == "ValueError", outputs
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(reply["traceback"]))
    assert re.search(r"Cell In ?\[{}\], line 2\n".format(reply["execution_count"]), shown), shown
    assert "----> 2 parts = [treadle.submit(train, i) for i in range(6)]" in shown, shown
    assert "----> 4         raise ValueError('diverged')" in shown, shown
    assert re.search(r"Cell In ?\[{}\], line 4, in train".format(defined_in), shown), shown
    assert shown.index("parts = [") < shown.index("raise ValueError"), shown
    assert_no_machinery(shown)


def test_an_interrupted_wait_shows_the_cells_line_only(any_kernel, tmp_path):
    reply, outputs, _ = any_kernel.run("%treadle workers 2 --cpus 1")
    assert reply["status"] == "ok", outputs
    started, waiting = tmp_path / "started", tmp_path / "waiting"
    code = ("import treadle, time, pathlib\n"
            "def slow(i):\n"
            "    pathlib.Path({started!r}).touch()\n"
            "    time.sleep(30)\n"
            "pathlib.Path({waiting!r}).touch()\n"
            "list(treadle.map(slow, range(4)))\n").format(started=str(started), waiting=str(waiting))
    reply, outputs, _ = any_kernel.run(code, interrupt_when=lambda: os.path.exists(started) and os.path.exists(waiting),
                                       stop_on_error=False, timeout=60)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", outputs
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(reply.get("traceback", [])))
    assert "----> 6 list(treadle.map(slow, range(4)))" in shown, shown
    assert_no_machinery(shown)


def shown_when_interrupted(kernel, code, started):
    """(reply, traceback text) of ``code``, interrupted once its task started and its progress
    line shows (the line comes after the cell's body ran: the cell waits)."""
    interrupted = []

    def until(messages):
        if not interrupted and os.path.exists(started) and any(m["msg_type"] == "display_data" for m in messages):
            interrupted.append(kernel.km.interrupt_kernel())
        return any(m["msg_type"] == "error" for m in messages) and \
            any(m["msg_type"] == "status" and m["content"]["execution_state"] == "idle" for m in messages)
    _, messages = kernel.collect(code, until=until, timeout=60)
    [error] = [m["content"] for m in messages if m["msg_type"] == "error"]
    return error, re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"])), messages


def test_an_interrupted_submit_and_a_hyperloom_failure_show_the_cells_line(any_kernel, tmp_path):
    """An interrupted ``%%treadle submit`` wait shows the cell's last submitting line (as an
    interrupted ordinary cell shows its line), whatever API's futures it waits on, keeping the
    cancel's message; a HyperLoom task's failure in a submit cell shows the line that made it."""
    reply, outputs, _ = any_kernel.run("%treadle workers 2 --cpus 1")
    assert reply["status"] == "ok", outputs
    started = tmp_path / "started"
    reply, outputs, _ = any_kernel.run(
        "import treadle, time, pathlib\n"
        "from treadle.scoop import futures\n"
        "from treadle.loom.client import tasks\n"
        "def slow(i):\n"
        "    pathlib.Path({!r}).touch()\n"
        "    time.sleep(30)\n"
        "def boom(x):\n"
        "    raise ValueError('no merge today')\n".format(str(started)))
    assert reply["status"] == "ok", outputs
    for make in ("treadle.submit", "futures.submit"):
        if started.exists():
            started.unlink()
        code = "%%treadle submit\nok = {0}(abs, -1)\nparts = [{0}(slow, i) for i in range(4)]\nmore = 2\n".format(make)
        error, shown, messages = shown_when_interrupted(any_kernel, code, str(started))
        assert error["ename"] == "KeyboardInterrupt", shown
        assert re.search(r"^Cell In ?\[\d+\], line 2\n", shown, flags=re.M), shown
        assert "----> 2 parts = [{}(slow, i) for i in range(4)]".format(make) in shown, shown
        assert_no_machinery(shown)
        cancelled = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
        # abs(-1) may have ended already: 4 or 5
        assert re.search(r"treadle: cancelled [45] tasks of this cell", cancelled), (make, cancelled)
    reply, outputs, _ = any_kernel.run("%%treadle submit\nx = tasks.const(b'7')\nbad = tasks.py_call(boom, [x])\n"
                                       "good = tasks.merge((x, x))\n")
    assert reply["status"] == "error" and reply["ename"] == "ValueError", outputs
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(reply["traceback"]))
    assert re.search(r"Cell In ?\[{}\], line 2\n".format(reply["execution_count"]), shown), shown
    assert "----> 2 bad = tasks.py_call(boom, [x])" in shown, shown
    assert shown.index("bad = tasks.py_call") < shown.index("raise ValueError('no merge today')"), shown
    assert_no_machinery(shown)
