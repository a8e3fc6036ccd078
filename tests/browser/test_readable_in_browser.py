"""Readable on a projector, in Notebook 6 and headless Chromium: the teaching notebook's question
("did `total` start early?") answered by the default trace, the last run's, where the short
`total` after the long squares shows; a 60-way fan-in that reads as one (whole labels of at least
12 px, no sideways scrolling, sources in a grid above their reduce); and the task stream: a
live trace that grows in the cell while a run goes on and ends as the whole run."""

import re

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By

from .conftest import screenshot, wait_for, write_notebook
from .test_widgets_in_browser import _LABEL_PX, _int, _into_view, _output_of, _wait_ready

SETUP = """\
%treadle workers 2
import os, time
import treadle

@treadle.task(label="square")
def slow_square(x):
    time.sleep(0.3)
    return x * x

@treadle.task(label="total")
def add_up(numbers):
    return sum(numbers)

@treadle.task(label="count:words")
def count_words(i):
    return i

@treadle.task(label="reduce:merge_counts")
def merge_counts(parts):
    return sum(parts)

@treadle.task(label="quick")
def quick(i):
    return i

@treadle.task(label="gated")
def gated(i, path):
    while not os.path.exists(path):     # held until the test opens the gate
        time.sleep(0.02)
    return i
"""
TEACHING = "answer = add_up([slow_square(i) for i in range(8)])\nprint(answer.result())"
FAN_IN = "merged = merge_counts([count_words(i) for i in range(60)])\nprint(merged.result())\ntreadle.show(merged)"
LIVE = "futures = [quick(i) for i in range(4)] + [gated(i, {gate!r}) for i in range(4)]\n%treadle trace --live"

# The pixels of the trace's canvas in a group's colour (from the widget's own data).
_GROUP_PIXELS = """
var root = arguments[0], name = arguments[1];
var d = JSON.parse(root.querySelector('script.treadle-data').textContent);
var color = null;
d.groups.forEach(function (g) { if (g[0] === name) color = g[1]; });
if (!color) return -1;
var r = parseInt(color.slice(1, 3), 16), g = parseInt(color.slice(3, 5), 16), b = parseInt(color.slice(5, 7), 16);
var canvas = root.querySelector('canvas'), px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
var n = 0;
for (var i = 0; i < px.length; i += 4)
  if (Math.abs(px[i] - r) < 3 && Math.abs(px[i + 1] - g) < 3 && Math.abs(px[i + 2] - b) < 3) n++;
return n;
"""

# A group's bars as the script has them, and the canvas (for a failure's message).
_BARS_OF = """
var root = arguments[0], name = arguments[1], out = [], t = 0;
var d = JSON.parse(root.querySelector('script.treadle-data').textContent), canvas = root.querySelector('canvas');
for (var i = 0; i < d.s.length; i++) { t += d.s[i]; if (d.groups[d.g[i]][0] === name)
  out.push({start: t, dur: d.d[i], lane: d.l[i]}); }
return {bars: out, span: d.span, groups: d.groups, canvas: [canvas.width, canvas.height, canvas.clientWidth],
        plot: root.querySelector('.treadle-trace-plot').clientWidth};
"""

# Where the nodes of a graph are on screen, and whether its view scrolls sideways.
_NODES = """
var root = arguments[0], view = root.querySelector('.treadle-graph-view');
return {nodes: Array.prototype.map.call(root.querySelectorAll('svg g.treadle-node'), function (g) {
          var b = g.querySelector('rect').getBoundingClientRect(), t = g.querySelector('text');
          return {text: t ? t.textContent : '', x: Math.round(b.left), y: Math.round(b.top), bottom: b.bottom}; }),
        view_w: view.clientWidth, scroll_w: view.scrollWidth};
"""


@pytest.mark.timeout(150)
def test_readable_pictures_and_a_live_task_stream(open_and_run, notebook_server, tmp_path):
    gate = tmp_path / "open"
    cells = [SETUP, TEACHING, "%treadle trace", FAN_IN, LIVE.format(gate=str(gate))]
    path = write_notebook(notebook_server.notebook_path("readable.ipynb"), cells)
    driver = open_and_run(path, timeout=110)

    # the default trace: the last run only (8 squares and their total), the short total visible
    trace = _output_of(driver, 2, ".treadle-trace")
    _wait_ready(driver, trace, "the trace's first draw")
    assert _int(trace, "data-bars") == 9, trace.get_attribute("outerHTML")[:300]
    head = trace.find_element(By.CSS_SELECTOR, ".treadle-trace-head").text
    assert head.startswith("trace of the last run"), head
    lanes = [e.text for e in trace.find_elements(By.CSS_SELECTOR, ".treadle-trace-lane")]
    assert any("Python" in name for name in lanes), lanes      # the tasks ran in Python
    assert all(re.search(r" · (quick tasks|programs|Python \d+)$", name) for name in lanes), lanes
    assert "event loop" not in trace.text and "loom/" not in trace.text
    _into_view(driver, trace)
    total_px = driver.execute_script(_GROUP_PIXELS, trace, "total")
    square_px = driver.execute_script(_GROUP_PIXELS, trace, "square")
    print("default trace: total drawn on {} px, squares on {} px".format(total_px, square_px))
    # (at least two columns of a 4 px bar: a transfer's arrow may end over it)
    assert total_px >= 2 * 14, "the total after the squares is not visible at the default zoom ({} px): {}".format(
        total_px, driver.execute_script(_BARS_OF, trace, "total"))
    assert square_px > 20 * total_px
    screenshot(trace, "readable-trace-last-run")

    # a 60-way fan-in: sources in a grid above the reduce, whole labels, no sideways scrolling
    graph = _output_of(driver, 3, ".treadle-graph")
    _wait_ready(driver, graph, "the fan-in graph's script ran")
    assert _int(graph, "data-nodes") == 61
    _into_view(driver, graph)
    m = driver.execute_script(_LABEL_PX, graph)
    shown = driver.execute_script(_NODES, graph)
    sources = [n for n in shown["nodes"] if n["text"] == "count:words"]
    reduce = [n for n in shown["nodes"] if n["text"] == "reduce:merge_counts"]
    print("fan-in: labels {:.1f} px, {} columns x {} rows of sources, view {} of {} px".format(
        m["px"], len({n["x"] for n in sources}), len({n["y"] for n in sources}), shown["view_w"], shown["scroll_w"]))
    screenshot(graph, "readable-fan-in")
    assert len(sources) == 60 and len(reduce) == 1, [n["text"] for n in shown["nodes"]][:5]
    assert m["px"] >= 12.0, "labels are {:.1f} px on screen".format(m["px"])
    assert shown["scroll_w"] <= shown["view_w"] + 1, "the fan-in scrolls sideways"
    assert len({n["x"] for n in sources}) >= 3 and len({n["y"] for n in sources}) >= 3
    assert all(n["bottom"] < reduce[0]["y"] for n in sources), "a source is not above the reduce"

    # the task stream: drawn during the run (the quick tasks), then the whole run once it ends
    # (its id, read at once: an update may replace the element any time)
    dom_id = wait_for(driver, lambda d: d.execute_script(
        "var c = Jupyter.notebook.get_cell(4), r = c && c.output_area.element[0].querySelector("
        "'.treadle-trace[data-live=\"1\"]'); return r ? r.id : null;"), 10, what="a live trace in cell 4")

    def some_bars(d):
        a = _data_of(d, dom_id)
        return a and a["live"] == "1" and a["ready"] == "1" and 1 <= int(a["bars"]) < 8 and a
    wait_for(driver, some_bars, 30, what="the live trace drew the quick tasks while the gated ones ran")
    _screenshot_of(driver, dom_id, "readable-live-during")
    assert not gate.exists()
    gate.write_text("go")

    def whole_run(d):
        a = _data_of(d, dom_id)
        return a and a["live"] == "0" and a["ready"] == "1" and a
    final = wait_for(driver, whole_run, 30, what="the live trace ended as the whole run")
    assert int(final["bars"]) == 8 and final["head"].startswith("trace of the run:"), final
    assert len(driver.find_elements(By.CSS_SELECTOR, ".treadle-trace")) == 2   # redrawn in place, not added
    # the replaced drawings left nothing behind: window listeners of the widgets on the page only
    # (two per trace, one per graph)
    listeners = driver.execute_script("return window.treadleWidgets.windowListeners();")
    assert listeners <= 2 * 2 + 1, "{} window listeners after the live trace's updates".format(listeners)
    screenshot(driver.find_element(By.ID, dom_id), "readable-live-final")


def _data_of(driver, dom_id):
    """The live trace's attributes (read at once: an update may replace the element any time)."""
    return driver.execute_script(
        "var r = document.getElementById(arguments[0]); if (!r) return null;"
        "return {live: r.getAttribute('data-live'), ready: r.getAttribute('data-ready'),"
        " bars: r.getAttribute('data-bars'), head: r.querySelector('.treadle-trace-head').textContent};", dom_id)


def _screenshot_of(driver, dom_id, name):
    """A screenshot of the element with that id, found again if an update replaced it meanwhile."""
    for _ in range(5):
        try:
            return screenshot(driver.find_element(By.ID, dom_id), name)
        except StaleElementReferenceException:
            continue
    return screenshot(driver, name)
