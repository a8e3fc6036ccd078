"""A live trace in a notebook executed by nbclient (nbconvert --execute, papermill) is saved as the
whole run: its last picture (data-live="0", every task) reaches the saved notebook when a later
cell waits for the run, although the trace's own thread would draw it after that cell's idle,
where nbclient no longer listens (docs/widgets.md, "What a notebook keeps")."""

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT

CELLS = [
    "%treadle workers 2",
    "import time\nimport treadle\n\n@treadle.task(label='nap')\ndef nap(i):\n    time.sleep(0.3)\n    return i\n\n"
    "fs = [nap(i) for i in range(8)]",
    "%treadle trace --live",
    "print(treadle.gather(fs))",    # the last cell: it waits for the run, nothing runs after it
]


def trace_attrs(html):
    tag = re.search(r'<div class="treadle-trace"[^>]*>', html)
    assert tag is not None, html[:500]
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag.group(0)))


@pytest.mark.timeout(180)
def test_the_saved_live_trace_is_the_whole_run(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook
    nb = new_notebook(cells=[new_code_cell(code) for code in CELLS],
                      metadata={"kernelspec": {"name": "treadle", "display_name": "Python 3 (treadle)",
                                               "language": "python"}})
    source, executed = tmp_path / "live.ipynb", tmp_path / "executed.ipynb"
    nbformat.write(nb, str(source))
    run = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "run_notebook.py"), str(source),
                          str(executed)], capture_output=True, text=True, timeout=150)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    cells = nbformat.read(str(executed), as_version=4).cells
    assert "[0, 1, 2, 3, 4, 5, 6, 7]" in "".join(o.get("text", "") for o in cells[3].outputs)
    shown = [o["data"] for o in cells[2].outputs if o.get("output_type") == "display_data"]
    assert len(shown) == 1, cells[2].outputs
    attrs = trace_attrs(shown[0]["text/html"])
    assert (attrs["data-live"], attrs["data-bars"]) == ("0", "8"), (attrs, shown[0]["text/plain"])
    assert shown[0]["text/plain"].startswith("trace of the run: 8 tasks"), shown[0]["text/plain"]
