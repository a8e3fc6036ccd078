"""What a task prints after its cell ended stays in that cell of a notebook nbclient executes
and saves (nbconvert --execute, papermill): nbclient stops reading a cell at its end, so such
lines travel as updates of a display the cell made before its end (docs/kernel.md)."""

import re

import nbformat
import pytest

# After the setup, a cell submits, among healthy printing tasks on 2 workers, one that fails,
# and ends at once; the tasks print only once the next cell made the flag: surely after their
# cell ended.
CELLS = [
    """\
{load}%treadle workers 2
import os, time, treadle
FLAG = {flag!r}

def later(label, fail=False):
    while not os.path.exists(FLAG):
        time.sleep(0.01)
    print(label, "printed after its cell ended", flush=True)
    if fail:
        raise ValueError("no " + label)
    return label""",
    """\
futures = [treadle.submit(later, "task{}".format(i)) for i in range(3)]
failing = treadle.submit(later, "failing", fail=True)
print("submitted", len(futures) + 1)""",
    """\
open(FLAG, "w").close()
print(treadle.gather(futures))
try:
    failing.result()
except ValueError as e:
    print("failed:", e)""",
]


def cell_text(cell):
    """The text a reader of the saved notebook sees in the cell: streams and text displays."""
    parts = []
    for out in cell.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("display_data", "execute_result"):
            parts.append(out.data.get("text/plain", ""))
    return "".join(parts)


@pytest.mark.timeout(180)
@pytest.mark.parametrize("kernel", ["treadle", "python3"])
def test_lines_printed_after_the_cell_ended_are_in_the_saved_notebook(kernel, tmp_path):
    from nbclient import NotebookClient
    flag = str(tmp_path / "print now")
    load = "%load_ext treadle\n" if kernel == "python3" else ""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CELLS[0].format(load=load, flag=flag))] + \
        [nbformat.v4.new_code_cell(code) for code in CELLS[1:]]
    NotebookClient(nb, kernel_name=kernel, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    nbformat.write(nb, str(tmp_path / "late.ipynb"))
    saved = nbformat.read(str(tmp_path / "late.ipynb"), as_version=4)
    first, second = (cell_text(c) for c in saved.cells[1:])
    for label in ("task0", "task1", "task2", "failing"):   # each marked with its task, in its own cell
        assert re.search(r"^\[task \d+ later\] {} printed after its cell ended$".format(label), first, re.M), first
    assert "submitted 4" in first
    assert "printed after" not in second, second
    assert "['task0', 'task1', 'task2']" in second and "ValueError: no failing" in second, second
