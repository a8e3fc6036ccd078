"""The notebook widgets through real kernels (the treadle kernel, and ipykernel with %load_ext
treadle): %treadle graph and %treadle trace show MIME bundles that keep the DOM contract, the
graph of a running submission is recoloured in place (update_display_data with its display id,
also after the cell finished), progress lines end "done", wrong usage is one line, and an
executed notebook converted by nbconvert still holds the static pictures."""

import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, errors, results, text, went_idle
from tests.widgets.test_widgets import dom

PLAN = """\
%treadle workers 2
import time
import treadle
from treadle.loom.client import tasks
maps = [tasks.run(["/bin/sh", "-c", "sleep 0.02; printf %d {}".format(i * i)]) for i in range(8)]
for i, t in enumerate(maps):
    t.label = "map:{}".format(i)
total = tasks.merge(maps, ",")
total.label = "reduce"
"""
SUBMIT = "%%treadle submit --name run\neverything = maps + [total]"
MIME = {"text/plain", "text/html", "image/svg+xml"}


def root_attrs(html, cls):
    tag = re.search(r'<div class="{}"[^>]*>'.format(cls), html)
    assert tag is not None, html[:500]
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag.group(0)))


def node_states(html):
    html = dom(html)   # the interactive picture travels as JSON for the widget's script
    return re.findall(r'<g class="treadle-node[^"]*" data-key="[^"]*" data-state="([a-z]+)"', html)


def one_display(k, code):
    reply, outputs, _ = k.run(code)
    assert reply["status"] == "ok" and not errors(outputs), (code, outputs)
    shown = results(outputs)
    assert len(shown) == 1, (code, outputs)
    assert set(shown[0]) == MIME, set(shown[0])
    return shown[0]


def test_graph_and_trace_magics(any_kernel, tmp_path):
    k = any_kernel
    reply, outputs, _ = k.run("%treadle graph", stop_on_error=False)   # nothing submitted yet
    assert text(outputs, "stderr").startswith("UsageError: %treadle graph: nothing was submitted yet"), outputs
    # Looking at the (empty) trace starts no workers: only a submission does.
    reply, outputs, _ = k.run("%treadle trace --live")
    assert reply["status"] == "ok" and "started" not in text(outputs), outputs
    reply, outputs, _ = k.run("from treadle.notebook import kernel as kernel_support\n"
                              "print(len(kernel_support.session().status()['workers']))")
    assert text(outputs) == "0\n", outputs
    reply, outputs, _ = k.run(PLAN)
    assert reply["status"] == "ok", outputs
    reply, outputs, _ = k.run(SUBMIT)
    assert reply["status"] == "ok" and not errors(outputs), outputs

    # everything: the results now, bound by the submit; the graph that made them is drawn
    for line in ("%treadle graph total", "%treadle graph", "%treadle graph run", "%treadle graph [total, maps[0]]",
                 "%treadle graph everything"):
        shown = one_display(k, line)
        attrs = root_attrs(shown["text/html"], "treadle-graph")
        assert attrs["data-tasks"] == attrs["data-nodes"] == "9", (line, attrs)
        assert attrs["data-aggregated"] == "0"
        states = node_states(shown["text/html"])
        assert len(states) == 9 and set(states) <= {"finished", "released"}, (line, states)
        assert dom(shown["text/html"]).count('<g class="treadle-edge"') == 8
        assert "map 8, reduce 1" in shown["text/plain"]
    shown = one_display(k, "%treadle graph total --expand map")
    assert root_attrs(shown["text/html"], "treadle-graph")["data-tasks"] == "8"

    shown = one_display(k, "%treadle trace")
    attrs = root_attrs(shown["text/html"], "treadle-trace")
    assert int(attrs["data-bars"]) >= 9 and int(attrs["data-lanes"]) >= 2
    assert dom(shown["text/html"]).count('class="treadle-trace-lane"') == int(attrs["data-lanes"])
    assert 'class="treadle-scrubber"' in dom(shown["text/html"]) and 'class="treadle-play"' in dom(shown["text/html"])
    # --last: the time of the last submission only
    reply, outputs, _ = k.run("%%treadle submit\nlater = [tasks.const('x{}'.format(i)) for i in range(3)]")
    assert reply["status"] == "ok", outputs
    last = root_attrs(one_display(k, "%treadle trace --last")["text/html"], "treadle-trace")
    assert 3 <= int(last["data-bars"]) < int(attrs["data-bars"]) + 3, (last, attrs)

    # recording into a folder, and stopping
    folder = tmp_path / "rec"
    reply, outputs, _ = k.run("%treadle trace --record {}".format(folder))
    assert "recording every event into" in text(outputs), outputs
    reply, outputs, _ = k.run("%%treadle submit\nagain = tasks.const('y')")
    reply, outputs, _ = k.run("%treadle trace --stop")
    assert "stopped" in text(outputs), outputs
    recorded = (folder / "server.trace.jsonl").read_text()
    assert '"kind":"task"' in recorded.replace(" ", ""), recorded[:300]


def test_record_refuses_a_file_name_and_a_missing_parent(kernel, tmp_path):
    # Neither becomes directories: x.json reads as a file, and a typo in the parent is a typo.
    k = kernel
    cases = [(tmp_path / "x.json", "a name with a suffix reads as a file"),
             (tmp_path / "no" / "such" / "x.json", "a name with a suffix reads as a file"),
             (tmp_path / "no" / "such" / "rec", "the directory {} does not exist".format(tmp_path / "no" / "such"))]
    for path, problem in cases:
        reply, outputs, _ = k.run("%treadle trace --record {}".format(path), stop_on_error=False)
        assert reply["status"] == "error" and reply["ename"] == "UsageError", (path, reply)
        err = text(outputs, "stderr")
        assert err.startswith("UsageError: treadle: cannot record into {}: {}".format(path, problem)), (path, err)
    assert list(tmp_path.iterdir()) == []
    # A new directory under an existing one is made, as before.
    reply, outputs, _ = k.run("%treadle trace --record {}".format(tmp_path / "rec"))
    assert "recording every event into {}/server.trace.jsonl".format(tmp_path / "rec") in text(outputs), outputs
    reply, outputs, _ = k.run("%treadle trace --stop")
    assert (tmp_path / "rec").is_dir(), outputs


def test_graph_colours_update_live_after_the_cell_finished(any_kernel):
    k = any_kernel
    reply, outputs, _ = k.run("%treadle workers 2\nimport time, treadle\n"
                              "def slow(x):\n    time.sleep(0.6)\n    return x\n")
    assert reply["status"] == "ok", outputs
    # total is kept: a future dropped before its task ran is cancelled (and drawn so)
    code = "parts = [treadle.submit(slow, i) for i in range(4)]\ntotal = treadle.submit(sum, parts)\n" \
           "treadle.show(parts + [total])"

    def all_finished(messages):
        return went_idle(messages) and any(
            m["msg_type"] == "update_display_data" and set(node_states(m["content"]["data"]["text/html"])) <= {
                "finished", "released"} for m in messages)
    _, messages = k.collect(code, until=all_finished, timeout=30)
    shown = [m for m in messages if m["msg_type"] in ("display_data", "update_display_data")]
    first = shown[0]
    assert first["msg_type"] == "display_data", [m["msg_type"] for m in shown]
    display_id = first["content"]["transient"]["display_id"]
    assert display_id
    assert set(first["content"]["data"]) == MIME
    assert set(node_states(first["content"]["data"]["text/html"])) - {"finished", "released"}  # not done yet
    updates = shown[1:]
    assert updates and all(m["msg_type"] == "update_display_data" and
                           m["content"]["transient"]["display_id"] == display_id for m in updates)
    idle_at = next(i for i, m in enumerate(messages) if m["msg_type"] == "status"
                   and m["content"]["execution_state"] == "idle")
    assert messages.index(updates[-1]) > idle_at       # recoloured after the cell finished
    last = updates[-1]["content"]["data"]
    assert set(last) == MIME and len(node_states(last["text/html"])) == 5
    assert "duration:" in last["text/html"]            # the last update has the trace's details


def test_progress_line_keeps_the_contract(any_kernel):
    k = any_kernel
    reply, outputs, _ = k.run(PLAN)
    _, messages = k.collect(SUBMIT)
    shown = [m for m in messages if m["msg_type"] in ("display_data", "update_display_data")]
    html = shown[-1]["content"]["data"]["text/html"]
    attrs = root_attrs(html, "treadle-progress")
    assert attrs["data-state"] == "done" and attrs["data-done"] == attrs["data-total"] == "9", attrs
    assert attrs["data-failed"] == attrs["data-running"] == "0"
    assert "<progress" in html and set(shown[-1]["content"]["data"]) == MIME
    ids = {m["content"]["transient"].get("display_id") for m in shown}
    assert len(ids) == 1 and None not in ids


USAGE_ERRORS = ["%treadle graph nosuch_name", "%treadle graph 1 + 1", "%treadle graph x --expand",
                "%treadle trace --record", "%treadle trace --last --stop", "%treadle trace extra",
                "%treadle trace --frob", "%%treadle graph\nx = 1", "%%treadle trace\nx = 1"]


def test_wrong_usage_is_one_line(kernel):
    k = kernel
    for line in USAGE_ERRORS:
        reply, outputs, _ = k.run(line, stop_on_error=False)
        assert not errors(outputs), (line, outputs)
        err = text(outputs, "stderr")
        assert err.startswith("UsageError:") and len(err.strip().splitlines()) == 1, (line, err, outputs)


def test_what_cannot_be_drawn_says_why(kernel):
    k = kernel
    k.run(PLAN)
    k.collect(SUBMIT)
    reply, outputs, _ = k.run("%treadle graph total --expand nosuch", stop_on_error=False)
    err = text(outputs, "stderr")
    assert err.startswith("UsageError:") and len(err.strip().splitlines()) == 1, outputs
    assert "no label group 'nosuch'" in err and "map" in err and "reduce" in err, err
    reply, outputs, _ = k.run("treadle.show(42)", stop_on_error=False)
    assert errors(outputs) and errors(outputs)[0][1] == "TypeError", outputs
    assert "draws futures and tasks" in errors(outputs)[0][2], outputs


@pytest.mark.timeout(180)
def test_nbconvert_html_keeps_the_static_pictures(tmp_path):
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook
    nb = new_notebook(cells=[new_code_cell(PLAN), new_code_cell(SUBMIT), new_code_cell("%treadle graph total"),
                             new_code_cell("%treadle trace")],
                      metadata={"kernelspec": {"name": "treadle", "display_name": "Python 3 (treadle)",
                                               "language": "python"}})
    source = tmp_path / "widgets.ipynb"
    executed = tmp_path / "executed.ipynb"
    nbformat.write(nb, str(source))
    run = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "run_notebook.py"), str(source),
                          str(executed)], capture_output=True, text=True, timeout=150)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    done = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", str(executed), "--output-dir",
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    html = (tmp_path / "executed.html").read_text()
    assert re.search(r'<div class="treadle-graph"[^>]*data-tasks="9"', html)
    assert '<svg class="treadle-graph-svg"' in dom(html)              # the graph's inline picture, for its script
    assert 'class="treadle-trace-lane"' in dom(html)                  # the trace's lanes, for its script
    assert html.count('<img class="treadle-static"') >= 2             # pictures for sanitized views
    assert html.count("window.treadleWidgets") >= 2                   # the scripts, inline


CANCELLED_JOB = [
    "%treadle workers 2\nimport time\nimport treadle\ndef slow(i):\n    time.sleep(60)\n    return i",
    "%%treadle submit --name job --no-wait\nparts = [treadle.submit(slow, i) for i in range(3)]",
    "job.cancel()",
    "%treadle graph job",
]


@pytest.mark.timeout(180)
def test_a_saved_and_exported_notebook_keeps_the_cancelled_look(tmp_path):
    """A job cancelled from the next cell: the executed notebook keeps its line ended
    "cancelled" with the scheduler's count, and its graph drawn cancelled; so does nbconvert's
    HTML."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook
    nb = new_notebook(cells=[new_code_cell(code) for code in CANCELLED_JOB],
                      metadata={"kernelspec": {"name": "treadle", "display_name": "Python 3 (treadle)",
                                               "language": "python"}})
    source, executed = tmp_path / "cancelled.ipynb", tmp_path / "executed.ipynb"
    nbformat.write(nb, str(source))
    run = subprocess.run([sys.executable, os.path.join(ROOT, "tests", "run_notebook.py"), str(source),
                          str(executed)], capture_output=True, text=True, timeout=150)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    cells = nbformat.read(str(executed), as_version=4).cells
    line = [o["data"] for o in cells[1].outputs if o.get("output_type") == "display_data"][-1]
    assert "0/3 done, 0 failed, 3 cancelled in " in line["text/plain"], line["text/plain"]
    attrs = root_attrs(line["text/html"], "treadle-progress")
    assert (attrs["data-state"], attrs["data-done"], attrs["data-cancelled"]) == ("cancelled", "0", "3"), attrs
    picture = [o["data"] for o in cells[3].outputs if o.get("output_type") == "display_data"][-1]
    assert node_states(picture["text/html"]) == ["cancelled"] * 3, picture["text/plain"]
    assert "3 cancelled" in picture["text/plain"], picture["text/plain"]
    done = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "html", str(executed), "--output-dir",
                           str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    html = (tmp_path / "executed.html").read_text()
    assert root_attrs(html, "treadle-progress")["data-cancelled"] == "3"
    assert node_states(html) == ["cancelled"] * 3
    assert 'stroke="#9aa0a6" stroke-width="1.5" stroke-dasharray="1,3"' in dom(html)   # drawn as such
