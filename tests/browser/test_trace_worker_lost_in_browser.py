"""A worker killed mid-run in the trace widget, in headless Chromium (docs/widgets.md, "Trace"):
a notebook's two workers each run a task to its end, then one is killed (SIGKILL) while both run
another; the trace draws a lost mark in its colour on the killed worker's lanes, the legend
names it, and hovering the mark says which worker, when and why. The task the killed worker had
finished, its result still held, ran again: the head counts 4 tasks, 1 run again, and its
earlier bar is drawn pale as "attempt 1 of 2", which its hover says."""

import re

import pytest
from selenium.webdriver.common.by import By

from treadle.widgets.trace_attempts import ATTEMPT_COLOR, ATTEMPT_GROUP
from treadle.widgets.trace_workers import KINDS

from .conftest import screenshot, write_notebook
from .test_trace_cancelled_in_browser import COLOURED_PIXELS
from .test_widgets_in_browser import _find_tip, _int, _into_view, _output_of, _wait_ready

LOSE = """\
import os, signal, tempfile, time, treadle, treadle.trace
client = treadle.default_client()
gates = tempfile.mkdtemp()

def gated(path, value):
    import os, time
    while not os.path.exists(path):
        time.sleep(0.01)
    return value

def all_running(futures):
    while client.core.states([f.task_id for f in futures]) != ["running"] * len(futures):
        time.sleep(0.05)

first = [client.submit(gated, os.path.join(gates, "first"), i) for i in range(2)]
all_running(first)
open(os.path.join(gates, "first"), "w").close()
assert [f.result() for f in first] == [0, 1]
second = [client.submit(gated, os.path.join(gates, "second"), i) for i in range(2, 4)]
all_running(second)
victim = client.status()["workers"][0]
os.kill(int(victim["name"].rsplit(":", 1)[1]), signal.SIGKILL)
open(os.path.join(gates, "second"), "w").close()
assert [f.result() for f in second] == [2, 3]
while not treadle.trace.events(client, kinds=["worker_lost"])["events"]:
    time.sleep(0.05)
print("killed", victim["name"])
"""


@pytest.mark.timeout(150)
def test_a_lost_worker_is_drawn_in_its_colour_with_its_hover(open_and_run, notebook_server):
    name, color, _ = KINDS["worker_lost"]
    path = write_notebook(notebook_server.notebook_path("worker_lost.ipynb"),
                          ["%treadle workers 2 --cpus 1", LOSE, "treadle.show_trace()"])
    driver = open_and_run(path, timeout=120)
    output = driver.execute_script("return Jupyter.notebook.get_cell(1).output_area.element[0].innerText;")
    killed = re.search(r"^killed (\S+:\d+)$", output, re.M)   # (the kernel's loss notice is in the cell too)
    assert killed, output
    killed = killed.group(1)
    assert "treadle: worker {} lost (connection closed)".format(killed) in output, output
    trace = _output_of(driver, 2, ".treadle-trace")
    _wait_ready(driver, trace, "the trace's first draw")
    assert _int(trace, "data-workers-lost") == 1
    items = [i for i in trace.find_elements(By.CSS_SELECTOR, ".treadle-legend-item") if name in i.text]
    assert len(items) == 1, trace.find_element(By.CSS_SELECTOR, ".treadle-legend").text
    swatch = items[0].find_element(By.CSS_SELECTOR, ".treadle-swatch").value_of_css_property("background-color")
    rgb = tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))
    assert swatch in ("rgb{}".format(rgb), "rgba({}, {}, {}, 1)".format(*rgb)), swatch
    assert "1 worker lost" in trace.find_element(By.CSS_SELECTOR, ".treadle-trace-head").text
    _into_view(driver, trace)
    assert driver.execute_script(COLOURED_PIXELS, trace, color) > 0, "no pixel in the lost worker's colour"
    screenshot(trace, "worker-lost-trace")
    tip = _find_tip(driver, trace, "worker lost:")
    assert tip is not None, "no hover says 'worker lost:'"
    assert "worker lost: {} (id ".format(killed) in tip and "why: connection closed" in tip, tip
    # the killed worker's finished task ran again: counted once, its earlier run a pale attempt
    head = trace.find_element(By.CSS_SELECTOR, ".treadle-trace-head").text
    assert "4 tasks (1 run again after worker {} was lost)".format(killed) in head, head
    assert (_int(trace, "data-tasks"), _int(trace, "data-run-again"), _int(trace, "data-bars")) == (4, 1, 5)
    assert _int(trace, "data-visible-bars") == 5   # the script draws every bar, the earlier attempt too
    assert any(ATTEMPT_GROUP in i.text for i in trace.find_elements(By.CSS_SELECTOR, ".treadle-legend-item"))
    assert driver.execute_script(COLOURED_PIXELS, trace, ATTEMPT_COLOR) > 0, "no pixel in the earlier attempt's colour"
    tip = _find_tip(driver, trace, "attempt 1 of 2")
    assert tip is not None and "its result was lost with worker {}".format(killed) in tip, tip
    assert "group: " + ATTEMPT_GROUP in tip, tip
    # (the run that made the result is a short bar, which a bar right after it on its lane may
    # cover for the hover: its label is checked in the data the script draws from)
    assert "attempt 2 of 2" in trace.get_attribute("innerHTML")
