"""Several tasks rewriting a line each with carriage returns (tqdm-style bars) in one cell, as a
notebook user sees it (the treadle kernel, and ipykernel with %load_ext treadle): each open
line is a display of its own, updated in place, and ends with its task's last text; the
stream gets none of it, so the cell does not grow a line per update. One task fails midway:
its traceback comes after its line's last text."""

import re

import pytest

from conftest import went_idle

BARS = r"""
import os, time, treadle

def bar(steps, tag, gate, fail_at=None):
    for i in range(steps + 1):
        if i == fail_at:
            break
        print(f"\r{tag}{10 * i}%", end="", flush=True)   # tqdm's way: no newline
        time.sleep(0.05)
    while not os.path.exists(gate):   # the test opens the gate once both lines are shown
        time.sleep(0.02)
    print(f"\r{tag}{'failing' if fail_at is not None else 'done'}", end="", flush=True)
    if fail_at is not None:
        raise RuntimeError("boom at %d" % fail_at)
    return steps
"""

LINE = re.compile(r"treadle-line-")


def line_messages(messages):
    """[(msg_type, display id, text)] of the task lines' displays and updates, in order."""
    out = []
    for m in messages:
        if m["msg_type"] in ("display_data", "update_display_data"):
            display_id = m["content"].get("transient", {}).get("display_id", "")
            if LINE.match(display_id):
                out.append((m["msg_type"], display_id, m["content"]["data"]["text/plain"]))
    return out


def test_two_bars_in_one_cell_stay_one_line_each(any_kernel, tmp_path):
    k = any_kernel
    gate = str(tmp_path / "gate")
    for code in ("%treadle workers 2 --cpus 1", BARS):
        reply, outputs, _ = k.run(code, timeout=60)
        assert reply["status"] == "ok", outputs
    opened = []

    def until(messages):
        if not opened and len({d for _, d, _ in line_messages(messages)}) == 2:
            opened.append(open(gate, "w").close())   # both lines are on screen: let the tasks end
        return went_idle(messages)

    code = ("a = treadle.submit(bar, 6, 'A ', {0!r}); b = treadle.submit(bar, 6, 'B ', {0!r}, fail_at=3)\n"
            "print(a.result()); b.result()").format(gate)
    _, messages = k.collect(code, until=until, timeout=90)
    assert opened, "the two lines were never shown as displays"
    lines = line_messages(messages)
    firsts = [(d, text) for kind, d, text in lines if kind == "display_data"]
    assert len(firsts) == 2, lines   # each line displayed once, then updated in place
    last = {}
    for _, d, text in lines:
        last[d] = text
    assert sorted(re.sub(r"\d+", "N", t) for t in last.values()) == \
        ["[task N bar] A done", "[task N bar] B failing"], lines
    stdout = "".join(m["content"]["text"] for m in messages
                     if m["msg_type"] == "stream" and m["content"]["name"] == "stdout")
    assert stdout == "6\n", repr(stdout)   # no bar text, no newline per update in the stream
    # The failing task's traceback comes after its line's last text (which the end of the
    # cell may send once more: an update published from another thread).
    b_final = next(i for i, m in enumerate(messages) if m["msg_type"] in ("display_data", "update_display_data")
                   and m["content"]["data"].get("text/plain", "").endswith("B failing"))
    errors = [i for i, m in enumerate(messages) if m["msg_type"] == "error"]
    assert errors and errors[0] > b_final, [m["msg_type"] for m in messages]
    assert messages[errors[0]]["content"]["ename"] == "RuntimeError"


NOTEBOOK_BARS = r"""
import time, treadle

def bar(steps, tag, fail_at=None):
    for i in range(steps + 1):
        print(f"\r{tag}{10 * i}%", end="", flush=True)
        time.sleep(0.25)   # open for seconds: shown as its own display while it runs
        if i == fail_at:
            print(f"\r{tag}failing", end="", flush=True)
            raise RuntimeError("boom at %d" % i)
    print(f"\r{tag}done", end="", flush=True)
    return steps
"""


@pytest.mark.timeout(180)
@pytest.mark.parametrize("kernel", ["treadle", "python3"])
def test_a_saved_notebook_keeps_each_bar_once_with_its_last_text(kernel, tmp_path):
    """Executed by nbclient (as nbconvert --execute does): the cell whose tasks ended before it
    did keeps one output per bar, with the bar's last text, and the failing one's traceback
    after them."""
    import nbformat
    from nbclient import NotebookClient
    cells = ["%treadle workers 2 --cpus 1", NOTEBOOK_BARS,
             "a = treadle.submit(bar, 8, 'A '); b = treadle.submit(bar, 8, 'B ', fail_at=4)\n"
             "print(a.result()); b.result()"]
    if kernel == "python3":
        cells[0] = "%load_ext treadle\n" + cells[0]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.cells[2].metadata["tags"] = ["raises-exception"]
    NotebookClient(nb, kernel_name=kernel, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    nbformat.write(nb, str(tmp_path / "bars.ipynb"))
    outputs = nbformat.read(str(tmp_path / "bars.ipynb"), as_version=4).cells[2].outputs
    bars = [(i, o["data"]["text/plain"]) for i, o in enumerate(outputs)
            if o.get("output_type") == "display_data" and o["data"].get("text/plain", "").startswith("[task ")]
    assert sorted(re.sub(r"\d+", "N", t) for _, t in bars) == ["[task N bar] A done", "[task N bar] B failing"], outputs
    stream = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    assert stream == "8\n", repr(stream)
    errors = [i for i, o in enumerate(outputs) if o.get("output_type") == "error"]
    assert len(errors) == 1 and outputs[errors[0]]["ename"] == "RuntimeError", outputs
    assert errors[0] > max(i for i, _ in bars), outputs


# The cell ends once the kernel's cell tracker has the bar's first text (and not before: else
# the cell could end with nothing of the bar in it).
SEEN_BY_THE_TRACKER = r"""
import threading
from treadle.core import hooks
tracker = next(l for l in hooks.listeners if type(l).__name__ == "CellTracker")
seen = threading.Event()
route = tracker.route
def spy(client, items, *args, **kwargs):
    result = route(client, items, *args, **kwargs)
    if any(b"late" in bytes(item[3]) for item in items):
        seen.set()
    return result
tracker.route = spy
"""


@pytest.mark.timeout(180)
@pytest.mark.parametrize("kernel", ["treadle", "python3"])
def test_a_bar_still_running_when_its_cell_ends_is_saved_with_its_last_text(kernel, tmp_path):
    """A bar that goes on after its cell ended: the saved notebook keeps it in that cell, with
    the text it ended with (a later cell waits for the task), not the half-way text it had when
    its cell ended."""
    import nbformat
    from nbclient import NotebookClient
    cells = ["%treadle workers 1 --cpus 1", NOTEBOOK_BARS + SEEN_BY_THE_TRACKER,
             "late = treadle.submit(bar, 6, 'late ')\nassert seen.wait(60)   # its first text reached the kernel",
             "late.result()"]
    if kernel == "python3":
        cells[0] = "%load_ext treadle\n" + cells[0]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    NotebookClient(nb, kernel_name=kernel, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    nbformat.write(nb, str(tmp_path / "late.ipynb"))
    saved = nbformat.read(str(tmp_path / "late.ipynb"), as_version=4)
    shown = [o.get("text") or o.get("data", {}).get("text/plain", "") for o in saved.cells[2].outputs]
    assert len(shown) == 1 and re.fullmatch(r"\[task \d+ bar\] late done", shown[0]), saved.cells[2].outputs
    assert not any("[task " in (o.get("text") or o.get("data", {}).get("text/plain", ""))
                   for o in saved.cells[3].outputs), saved.cells[3].outputs
