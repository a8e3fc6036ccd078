"""Every notebook in notebooks/ executes without an error output, under the kernel its metadata
names (the treadle kernel for notebooks made for it, python3 otherwise)."""

import glob
import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOKS = sorted(glob.glob(os.path.join(ROOT, "notebooks", "*.ipynb")))
JUPYTER_DIR = os.path.join(ROOT, "prefix", "share", "jupyter")


def kernel_of(path):
    with open(path) as f:
        name = json.load(f).get("metadata", {}).get("kernelspec", {}).get("name")
    return "treadle" if name == "treadle" else "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[os.path.basename(p) for p in NOTEBOOKS])
def test_notebook_runs_clean(path, tmp_path):
    kernel = kernel_of(path)
    env = dict(os.environ)
    if kernel == "treadle":
        if not os.path.exists(os.path.join(JUPYTER_DIR, "kernels", "treadle", "kernel.json")):
            pytest.skip("the treadle kernelspec is not installed (./setup.sh build)")
        env["JUPYTER_PATH"] = os.pathsep.join(p for p in [JUPYTER_DIR, env.get("JUPYTER_PATH")] if p)
    out = tmp_path / os.path.basename(path)
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "run_notebook.py"), path, str(out),
                             "--kernel", kernel], capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert out.exists()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[os.path.basename(p) for p in NOTEBOOKS])
def test_run_all_twice_in_one_kernel(path, tmp_path):
    """A teacher presses Run All again without restarting the kernel: every cell runs again
    without an error (scoop.ipynb's setConst once failed there: a constant is defined once per
    pool, and the pool lives on)."""
    kernel = kernel_of(path)
    env = dict(os.environ)
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in [JUPYTER_DIR, env.get("JUPYTER_PATH")] if p)
    if kernel == "treadle" and not os.path.exists(os.path.join(JUPYTER_DIR, "kernels", "treadle", "kernel.json")):
        pytest.skip("the treadle kernelspec is not installed (./setup.sh build)")
    out = tmp_path / os.path.basename(path)
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "run_notebook.py"), path, str(out),
                             "--kernel", kernel, "--passes", "2"], capture_output=True, text=True, timeout=590,
                            env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_there_is_a_tour():
    assert any(p.endswith("tour.ipynb") for p in NOTEBOOKS)


def test_there_is_a_teaching_notebook_for_the_treadle_kernel():
    teaching = [p for p in NOTEBOOKS if p.endswith("teaching_parallel.ipynb")]
    assert teaching and kernel_of(teaching[0]) == "treadle"


# -- what an executed and saved notebook keeps -------------------------------------------------

_LIVE_STATES = ("pending", "waiting", "ready", "assigned", "running", "queued")


def unfinished_pictures(nb):
    """(cell index, summary) of every treadle widget a saved notebook keeps in a state that is
    not final: a progress line still running, a graph with tasks that never ended, a trace still
    live or still waiting for tasks of its run."""
    out = []
    for i, cell in enumerate(nb["cells"]):
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            html_text = data.get("text/html", "")
            text = data.get("text/plain", "")
            text = "".join(text) if isinstance(text, list) else text
            html_text = "".join(html_text) if isinstance(html_text, list) else html_text
            if "treadle-progress" in html_text and 'data-state="running"' in html_text:
                out.append((i, text))
            if text.startswith("task graph:") and any(" " + s in text.split(";")[-1] for s in _LIVE_STATES):
                out.append((i, text))
            if 'class="treadle-trace"' in html_text and ('data-live="1"' in html_text or "still to run" in text):
                out.append((i, text))
    return out


def execute(path, tmp_path, kernel=None):
    env = dict(os.environ)
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in [JUPYTER_DIR, env.get("JUPYTER_PATH")] if p)
    out = tmp_path / os.path.basename(path)
    result = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "run_notebook.py"), path, str(out)] +
                            (["--kernel", kernel] if kernel else []), capture_output=True, text=True,
                            timeout=600, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    import nbformat
    return nbformat.read(str(out), as_version=4)   # multi-line texts joined


@pytest.mark.timeout(300)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[os.path.basename(p) for p in NOTEBOOKS])
def test_saved_notebook_keeps_final_pictures(path, tmp_path):
    """Executed by nbclient (as nbconvert --execute does) and saved, every progress line and
    graph of a shipped notebook shows how its run ended, not a moment of it."""
    if not os.path.exists(os.path.join(JUPYTER_DIR, "kernels", "treadle", "kernel.json")):
        pytest.skip("the treadle kernelspec is not installed (./setup.sh build)")
    nb = execute(path, tmp_path, kernel_of(path))
    assert unfinished_pictures(nb) == []


LATE_CELLS = [
    "import time, treadle\n%treadle workers 2 --cpus 1",
    "@treadle.task(label='slow')\ndef slow(x):\n    time.sleep(0.3)\n    return x\n\n"
    "@treadle.task(label='total')\ndef total(xs):\n    return sum(xs)",
    # a live graph whose tasks end while later cells run
    "parts = [slow(i) for i in range(8)]\nanswer = total(parts)\ntreadle.show(answer)",
    # the trace of that run, drawn while it goes on
    "%treadle trace",
    # a submit line whose tasks end inside its cell
    "%%treadle submit --name run\nquick = [slow(i) for i in range(100, 108)]",
    "print(answer.result())",
    "%treadle workers --stop",
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kernel", ["treadle", "python3"])
def test_late_updates_land_in_the_saved_notebook(kernel, tmp_path):
    """A live graph and a trace drawn mid-run whose run ends while later cells run, and a submit
    line that ends in its cell, are kept in their final state; stopping the workers afterwards repaints nothing."""
    import nbformat
    if not os.path.exists(os.path.join(JUPYTER_DIR, "kernels", "treadle", "kernel.json")):
        pytest.skip("the treadle kernelspec is not installed (./setup.sh build)")
    cells = list(LATE_CELLS)
    if kernel == "python3":
        cells[0] = "%load_ext treadle\n" + cells[0]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    src = tmp_path / "late.ipynb"
    nbformat.write(nb, str(src))
    (tmp_path / "out").mkdir()
    saved = execute(str(src), tmp_path / "out", kernel)
    assert unfinished_pictures(saved) == []
    graph = [o for o in saved["cells"][2]["outputs"] if o.get("output_type") == "display_data"]
    assert graph and graph[0]["data"]["text/plain"].endswith("; 9 finished"), graph
    trace = [o for o in saved["cells"][3]["outputs"] if o.get("output_type") == "display_data"]
    drawn = re.match(r"trace of the last run: (\d+) tasks on ", trace[0]["data"]["text/plain"]) if trace else None
    # the whole run (and whatever else ran then: the next cell's tasks), nothing left to run
    assert drawn and int(drawn.group(1)) >= 9 and "still to run" not in trace[0]["data"]["text/plain"], trace
    line = [o for o in saved["cells"][4]["outputs"] if "treadle-progress" in o.get("data", {}).get("text/html", "")]
    assert len(line) == 1 and "run: 8/8 done" in line[0]["data"]["text/plain"], line


@pytest.mark.timeout(300)
def test_nbconvert_html_export_shows_final_pictures(tmp_path):
    """``jupyter nbconvert --to html --execute`` of the teaching notebook: its submit line says
    how the job ended, its graphs show every task ended."""
    import html as html_lib
    import re
    if not os.path.exists(os.path.join(JUPYTER_DIR, "kernels", "treadle", "kernel.json")):
        pytest.skip("the treadle kernelspec is not installed (./setup.sh build)")
    env = dict(os.environ)
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in [JUPYTER_DIR, env.get("JUPYTER_PATH")] if p)
    path = [p for p in NOTEBOOKS if p.endswith("teaching_parallel.ipynb")][0]
    result = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", "--execute", path,
                             "--output-dir", str(tmp_path)], capture_output=True, text=True, timeout=600, env=env,
                            cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    page = (tmp_path / "teaching_parallel.html").read_text()
    lines = re.findall(r'<span class="treadle-progress-text">([^<]*)</span>', page)
    assert any(html_lib.unescape(t).startswith("darts: 8/8 done, 0 failed in ") for t in lines), lines
    assert 'data-state="running"' not in page
    summaries = [html_lib.unescape(s) for s in re.findall(r'<div class="treadle-graph-head">([^<]*)<', page)]
    assert summaries and all(s.split(";")[-1].strip() in ("9 finished", "9 released") for s in summaries), summaries


def test_the_scoop_notebook_draws_its_futures(tmp_path):
    """notebooks/scoop.ipynb (SCOOP's futures in the treadle kernel): the graph of SCOOP futures,
    the mapReduce tree and the trace of the recursive tree are drawn."""
    path = os.path.join(ROOT, "notebooks", "scoop.ipynb")
    assert kernel_of(path) == "treadle"
    if not os.path.exists(os.path.join(JUPYTER_DIR, "kernels", "treadle", "kernel.json")):
        pytest.skip("the treadle kernelspec is not installed (./setup.sh build)")
    nb = execute(path, tmp_path)
    texts = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            texts.append(o.get("text") or o.get("data", {}).get("text/plain", ""))
    text = "\n".join(texts)
    assert "task graph: 7 tasks, 2 label groups (slow_inverse 5, value 2)" in text, text
    assert "(abs 64, add 63, value 3)" in text, text
    assert "trace of the last run: 63 tasks" in text, text
    assert "failed: ZeroDivisionError('division by zero')" in text and "32" in text
    assert not unfinished_pictures(nb)


@pytest.mark.timeout(300)
def test_rain_tour_keeps_its_sessions_pictures(tmp_path):
    """The Rain tour, executed and saved: each session's graph shows how it ended (the failing
    session's task failed among finished ones), Rain's names group the tasks, and %treadle
    status counts the Rain client's sessions."""
    if not os.path.exists(os.path.join(JUPYTER_DIR, "kernels", "treadle", "kernel.json")):
        pytest.skip("the treadle kernelspec is not installed (./setup.sh build)")
    path = [p for p in NOTEBOOKS if p.endswith("rain_tour.ipynb")][0]
    nb = execute(path, tmp_path, "treadle")
    texts = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                raise AssertionError("{}: {}".format(o["ename"], o["evalue"]))
            texts.append(o.get("data", {}).get("text/plain", "") or o.get("text", ""))
    graphs = [t for t in texts if t.startswith("task graph:")]
    assert graphs and all(not any(" " + s in g.split(";")[-1] for s in _LIVE_STATES) for g in graphs), graphs
    failing = [g for g in graphs if "check 1" in g]
    # the healthy eight ended (a session frees what nobody kept once done: "released")
    assert len(failing) == 1 and failing[0].endswith(" 1 failed"), graphs
    ended = re.findall(r"(\d+) (?:finished|released)", failing[0].split(";")[-1])
    assert sum(int(n) for n in ended) == 8, graphs
    assert any("forecast 10" in g and "shout 5" in g for g in graphs), graphs
    assert any("the session failed: " in t and "the forecast said no rain" in t for t in texts), texts
    assert any(re.search(r"Rain client [\d.]+:\d+: 4 sessions \(1 open, 1 failed, 2 closed\)", t) for t in texts), texts
    # Execute and Program: two outputs chained, a failing program beside them; directories made,
    # cut, mapped into a program and returned by one
    assert any("lines: 3" in t for t in texts) and any("a program failed:" in t for t in texts), texts
    programs = [g for g in graphs if "programs " in g.split(";")[0]]
    assert len(programs) == 1 and programs[0].endswith("1 failed"), graphs
    assert any("tree/inputs/notes/forecast.txt" in t and "tree/a/deep/path/x" in t for t in texts), texts
    assert any("['readme.txt', 'when']" in t for t in texts), texts


# -- what tasks print, in the cells that submitted them ------------------------------------------

def _printing_cells(failing_cell):
    """Four cells that each map 6 printing tasks on 2 workers; ``failing_cell``'s task 3 raises."""
    cells = ["import treadle\n%treadle workers 2 --cpus 1",
             "@treadle.task(label='shout')\ndef shout(tag, i):\n    print(tag, i)\n"
             "    if tag == {!r} and i == 3:\n        raise ValueError('no ' + tag)\n    return i".format(
                 "cell{}".format(failing_cell))]
    for k in range(4):
        cells.append("print('total', sum(treadle.gather([shout('cell{0}', i) for i in range(6)])))".format(k))
    return cells


@pytest.mark.timeout(240)
@pytest.mark.parametrize("kernel", ["treadle", "python3"])
def test_task_prints_land_in_their_own_cells_of_the_saved_and_exported_notebook(kernel, tmp_path):
    """Each cell keeps what its own tasks printed, and only that, in the notebook nbclient saves
    and in its HTML export; a failing task among printing ones leaves its cell the user's
    ValueError and the healthy tasks' lines, and the cells after it run as before."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter
    if not os.path.exists(os.path.join(JUPYTER_DIR, "kernels", "treadle", "kernel.json")):
        pytest.skip("the treadle kernelspec is not installed (./setup.sh build)")
    failing = 1
    cells = _printing_cells(failing)
    if kernel == "python3":
        cells[0] = "%load_ext treadle\n" + cells[0]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.cells[2 + failing].metadata["tags"] = ["raises-exception"]
    os.environ["JUPYTER_PATH"] = os.pathsep.join(p for p in [JUPYTER_DIR, os.environ.get("JUPYTER_PATH")] if p)
    NotebookClient(nb, kernel_name=kernel, timeout=120,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    nbformat.write(nb, str(tmp_path / "prints.ipynb"))
    saved = nbformat.read(str(tmp_path / "prints.ipynb"), as_version=4)
    for k in range(4):
        cell = saved.cells[2 + k]
        text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
        tags = set(re.findall(r"^\[task \d+ shout\] (cell\d) (\d)$", text, re.M))   # each line names its task
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        assert {t for t, _ in tags} <= {"cell{}".format(k)}, (k, text)    # nothing of another cell
        if k == failing:
            # the failing task printed before it raised; the healthy ones may not all have run
            assert ("cell{}".format(k), "3") in tags, (k, text)
            assert len(errors) == 1 and errors[0]["ename"] == "ValueError" and "no cell1" in errors[0]["evalue"], errors
            assert "total" not in text
        else:
            assert tags == {("cell{}".format(k), str(i)) for i in range(6)}, (k, text)
            assert "total 15" in text and not errors, (k, cell.outputs)
    # the HTML export shows the same lines, each cell's under its own input
    page, _ = HTMLExporter().from_notebook_node(saved)
    shown = re.findall(r"\[task \d+ shout\] cell(\d) (\d)\b", page)
    assert [c for c, _ in shown] == sorted(c for c, _ in shown), shown
    for k in (0, 2, 3):
        assert {i for c, i in shown if c == str(k)} == {str(i) for i in range(6)}, (k, shown)
    assert "no cell1" in page
