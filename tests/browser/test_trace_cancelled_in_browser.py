"""A cancelled task in the trace widget, in headless Chromium (docs/widgets.md, "Trace"): a
notebook cancels a running and a queued task, shows the trace, and the canvas draws their marks
in the cancelled colour; the legend names it and hovering a mark says what it is and which
function it was."""

import pytest
from selenium.webdriver.common.by import By

from treadle.widgets.trace_cancels import CANCELLED_COLOR, CANCELLED_GROUP

from .conftest import screenshot, write_notebook
from .test_widgets_in_browser import _find_tip, _int, _into_view, _output_of, _wait_ready

CANCEL = """\
import time, treadle, treadle.trace
client = treadle.default_client()
client.submit(int, "1").result()
running, queued = client.submit(time.sleep, 600), client.submit(time.sleep, 600)
while client.core.states([running.task_id])[0] != "running":
    time.sleep(0.05)
client.cancel([running, queued])
while not treadle.trace.events(client, kinds=["cancelled"])["events"]:
    time.sleep(0.05)
"""

# Pixels of the canvas in a colour (exactly: bars are drawn on whole pixels, unblended).
COLOURED_PIXELS = """
var canvas = arguments[0].querySelector('canvas'), hex = arguments[1];
var want = [1, 3, 5].map(function (i) { return parseInt(hex.substr(i, 2), 16); });
var data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data, n = 0;
for (var i = 0; i < data.length; i += 4)
  if (data[i] === want[0] && data[i + 1] === want[1] && data[i + 2] === want[2] && data[i + 3] === 255) n++;
return n;
"""


@pytest.mark.timeout(120)
def test_cancelled_tasks_are_drawn_in_their_colour(open_and_run, notebook_server):
    path = write_notebook(notebook_server.notebook_path("cancelled.ipynb"),
                          ["%treadle workers 1 --cpus 1", CANCEL, "treadle.show_trace()"])
    driver = open_and_run(path)
    trace = _output_of(driver, 2, ".treadle-trace")
    _wait_ready(driver, trace, "the trace's first draw")
    assert _int(trace, "data-cancelled") >= 1
    items = [i for i in trace.find_elements(By.CSS_SELECTOR, ".treadle-legend-item") if CANCELLED_GROUP in i.text]
    assert len(items) == 1, trace.find_element(By.CSS_SELECTOR, ".treadle-legend").text
    swatch = items[0].find_element(By.CSS_SELECTOR, ".treadle-swatch").value_of_css_property("background-color")
    rgb = tuple(int(CANCELLED_COLOR[i:i + 2], 16) for i in (1, 3, 5))
    assert swatch in ("rgb{}".format(rgb), "rgba({}, {}, {}, 1)".format(*rgb)), swatch
    _into_view(driver, trace)
    assert driver.execute_script(COLOURED_PIXELS, trace, CANCELLED_COLOR) > 0, "no pixel in the cancelled colour"
    screenshot(trace, "cancelled-trace")
    tip = _find_tip(driver, trace, "cancelled while")
    assert tip is not None and CANCELLED_GROUP in tip, tip
    assert tip.startswith("sleep — cancelled while"), tip   # the mark names its task's function
