"""The notebook widgets (progress, task graph, trace) in a real browser: Jupyter Notebook 6 and
headless Chromium run notebooks made here with the treadle kernel; the tests check the DOM the
widgets promise (docs/testing.md), interact with it, and save screenshots under
build/screenshots/.

The DOM contract:
  progress  div.treadle-progress[data-state data-done data-failed data-running data-total] > progress
  graph     div.treadle-graph[data-tasks data-nodes data-aggregated data-ready] > svg
            g.treadle-node[data-key data-state] (aggregated: also .treadle-group[data-count]),
            g.treadle-edge; hovering a node shows .treadle-tooltip
  trace     div.treadle-trace[data-bars data-lanes data-transfers data-transfer-arrows
            data-cpu-strips data-ready data-draw-ms data-visible-bars] > canvas,
            .treadle-trace-lane (one per lane), .treadle-trace-cpu (one per cpu strip),
            input[type=range].treadle-scrubber, .treadle-play; hovering a bar shows
            .treadle-tooltip
  graph and trace both carry a static picture, .treadle-static, that the script hides and that
  shows where no script runs. Notebook 6 sanitizes an untrusted notebook's HTML, dropping inline
  <svg>, data-* and style: an <img class="treadle-static" src="data:image/svg+xml;base64,...">
  survives (docs/testing.md).
"""

import time

import nbformat
import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from .conftest import console_log, js_wait, page_state, save, screenshot, wait_for, write_notebook

N_MAP = 40
SMALL_TASKS = N_MAP + 1        # 40 maps and the reduce
BIG_CONSTS, BIG_CHUNK = 100_000, 1000
BIG_TASKS = BIG_CONSTS + BIG_CONSTS // BIG_CHUNK + 1

WORKERS = "%treadle workers 2"

SMALL_PLAN = """\
from treadle.loom.client import tasks

# each map: a program that takes a moment (so the trace has bars to see) and prints i*i
maps = [tasks.run(["/bin/sh", "-c", "sleep 0.02; printf %d {{}}".format(i * i)]) for i in range({n})]
for i, t in enumerate(maps):
    t.label = "map:{{}}".format(i)
total = tasks.merge(maps, ",")
total.label = "reduce"
""".format(n=N_MAP)

# The cell submits what it assigns (and binds the results there); maps and total stay tasks,
# for the graph.
SMALL_SUBMIT = """\
%%treadle submit --name run
everything = maps + [total]
"""
SMALL_CHECK = "print(everything[-1][:20])"

BIG_PLAN = """\
from treadle.loom.client import tasks
consts = [tasks.const(str(i)) for i in range({n})]
chunks = [tasks.merge(consts[i:i + {chunk}]) for i in range(0, {n}, {chunk})]
root = tasks.merge(chunks, "|")
root.label = "root"
""".format(n=BIG_CONSTS, chunk=BIG_CHUNK)
BIG_SUBMIT = """\
%%treadle submit --name big
result = root
"""


def _int(element, name):
    value = element.get_attribute(name)
    assert value is not None and value.lstrip("-").isdigit(), "{}={!r} on {}".format(
        name, value, element.get_attribute("class"))
    return int(value)


def _wait_ready(driver, root, what, timeout=10):
    """Waits for data-ready="1", which the widget's script sets on its root."""
    def details():
        return driver.execute_script(
            "return 'window.treadleWidgets: ' + (window.treadleWidgets ? 'defined' : 'undefined') +"
            " '; elements with data-ready: ' + Array.prototype.map.call("
            "document.querySelectorAll('[data-ready]'), function (e) {"
            " return e.tagName.toLowerCase() + (e.className ? '.' + String(e.className).split(' ')[0] : ''); })"
            ".join(', ');")
    wait_for(driver, lambda d: root.get_attribute("data-ready") == "1", timeout,
             what=what + ' (data-ready="1" on its root)', details=details)


def _draw_ms(trace):
    value = trace.get_attribute("data-draw-ms")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise AssertionError("data-draw-ms={!r} on the trace".format(value)) from None


def _output_of(driver, cell_index, selector, timeout=10):
    """The element ``selector`` in the outputs of code cell ``cell_index`` (waits for it)."""
    script = ("var c = Jupyter.notebook.get_cell(arguments[0]);"
              "return c ? c.output_area.element[0].querySelector(arguments[1]) : null;")
    return wait_for(driver, lambda d: d.execute_script(script, cell_index, selector), timeout,
                    what="{} in the output of cell {}".format(selector, cell_index),
                    details=lambda: "the cell's output:\n" + (_cell_html(driver, cell_index)[:2000] or "(none)"))


def _cell_html(driver, cell_index):
    return driver.execute_script("var c = Jupyter.notebook.get_cell(arguments[0]);"
                                 "return c ? c.output_area.element[0].innerHTML : '';", cell_index)


def _cell_text(driver, cell_index):
    return driver.execute_script("var c = Jupyter.notebook.get_cell(arguments[0]);"
                                 "return c.output_area.element[0].innerText;", cell_index)


def _visible(element):
    size = element.size
    return element.is_displayed() and size["width"] > 0 and size["height"] > 0


# The part of an element a user sees: its box cut by the viewport and by every ancestor that
# clips it (overflow other than visible; ancestors between an absolutely positioned element and
# its containing block do not clip it; a fixed one is clipped by the viewport only).
_SEEN_FRACTION = """
function seenFraction(t) {
  var s = getComputedStyle(t), r = t.getBoundingClientRect();
  if (s.display === 'none' || s.visibility === 'hidden' || s.opacity === '0' || r.width <= 0 || r.height <= 0)
    return 0;
  var L = r.left, T = r.top, R = r.right, B = r.bottom, pos = s.position;
  for (var a = t.parentElement; a && pos !== 'fixed'; a = a.parentElement) {
    var cs = getComputedStyle(a);
    if (pos === 'absolute' && cs.position === 'static' && cs.transform === 'none') continue;
    if (cs.overflowX !== 'visible' || cs.overflowY !== 'visible') {
      var q = a.getBoundingClientRect();
      L = Math.max(L, q.left); T = Math.max(T, q.top); R = Math.min(R, q.right); B = Math.min(B, q.bottom);
    }
    pos = cs.position;
  }
  L = Math.max(L, 0); T = Math.max(T, 0); R = Math.min(R, innerWidth); B = Math.min(B, innerHeight);
  return R > L && B > T ? (R - L) * (B - T) / (r.width * r.height) : 0;
}
"""


def _tooltip_seen(driver):
    """How much of the most visible .treadle-tooltip a user sees (0..1)."""
    return driver.execute_script(_SEEN_FRACTION + "return Math.max.apply(null, [0].concat(Array.prototype.map.call("
                                 "document.querySelectorAll('.treadle-tooltip'), seenFraction)));")


def _tooltip_shown(driver):
    """A tooltip shows, whole (not cut by the output area's or the widget's edges)."""
    return _tooltip_seen(driver) >= 0.95


def _wait_tooltip(driver, what):
    wait_for(driver, _tooltip_shown, 5, what="a whole tooltip after " + what,
             details=lambda: "the most visible tooltip shows {:.0%} of itself".format(_tooltip_seen(driver)))


def _move_away(driver):
    body = driver.find_element(By.ID, "header")
    ActionChains(driver).move_to_element_with_offset(body, 1, 1).perform()


def _responsive(driver, limit=8.0):
    """The page answers a script and paints a frame: not frozen (a frozen page never answers).
    ``limit`` only bounds the wait; how fast is a figure, not this test's business."""
    start = time.monotonic()
    driver.set_script_timeout(10)
    driver.execute_async_script("var done = arguments[0]; requestAnimationFrame(function () { done(1); });")
    took = time.monotonic() - start
    assert took < limit, "the page took {:.2f} s to paint a frame".format(took)
    return took


# ---------------------------------------------------------------------------------------------
# Progress (exists in every version: the bar and its text)

@pytest.mark.timeout(90)
def test_progress_bar_reaches_the_end(open_and_run, notebook_server):
    path = write_notebook(notebook_server.notebook_path("progress.ipynb"),
                          [WORKERS, SMALL_PLAN, SMALL_SUBMIT, SMALL_CHECK])
    driver = open_and_run(path)
    root = _output_of(driver, 2, ".treadle-progress")
    bar = root.find_element(By.TAG_NAME, "progress")
    assert _visible(bar)
    assert bar.get_attribute("max") == str(SMALL_TASKS), bar.get_attribute("outerHTML")
    assert bar.get_attribute("value") == bar.get_attribute("max")
    assert "{0}/{0} done".format(SMALL_TASKS) in root.text, root.text
    assert "b'0,1,4,9,16,25,36,49" in _cell_text(driver, 3), _cell_text(driver, 3)
    screenshot(root, "progress")
    screenshot(driver, "progress-page")


# ---------------------------------------------------------------------------------------------
# Graph and trace of a small map-reduce

@pytest.mark.timeout(120)
def test_small_map_reduce_widgets(open_and_run, notebook_server, bare_notebook_server, browser):
    name = "small.ipynb"
    path = write_notebook(notebook_server.notebook_path(name),
                          [WORKERS, SMALL_PLAN, SMALL_SUBMIT, SMALL_CHECK, "%treadle graph total", "%treadle trace"])
    driver = open_and_run(path)
    screenshot(driver, "small-page")

    # progress: the contract's attributes
    progress = _output_of(driver, 2, ".treadle-progress")
    assert progress.get_attribute("data-state") == "done"
    assert _int(progress, "data-total") == SMALL_TASKS
    assert _int(progress, "data-done") == SMALL_TASKS
    assert _int(progress, "data-failed") == 0 and _int(progress, "data-running") == 0
    assert progress.find_elements(By.TAG_NAME, "progress")

    # graph: one node per task, edges, a tooltip on hover
    graph = _output_of(driver, 4, ".treadle-graph")
    _wait_ready(driver, graph, "the graph's script ran")
    assert _int(graph, "data-tasks") == SMALL_TASKS
    assert graph.get_attribute("data-aggregated") == "0"
    nodes = graph.find_elements(By.CSS_SELECTOR, "svg g.treadle-node")
    assert len(nodes) == _int(graph, "data-nodes") == SMALL_TASKS
    assert not graph.find_elements(By.CSS_SELECTOR, "g.treadle-group")
    keys = {n.get_attribute("data-key") for n in nodes}
    assert len(keys) == SMALL_TASKS, "node keys are not distinct"
    states = {n.get_attribute("data-state") for n in nodes}
    assert states <= {"finished", "released"}, states
    assert len(graph.find_elements(By.CSS_SELECTOR, "svg g.treadle-edge")) == N_MAP  # map -> reduce
    assert _visible(graph.find_element(By.TAG_NAME, "svg"))
    static = graph.find_elements(By.CSS_SELECTOR, ".treadle-static")
    assert all(not s.is_displayed() for s in static), "the static fallback shows next to the live graph"
    reduce_node = [n for n in nodes if "reduce" in (n.text or n.get_attribute("textContent"))]
    target = reduce_node[0] if reduce_node else nodes[0]
    assert _tooltip_seen(driver) == 0, "a tooltip shows before any hover"
    _into_view(driver, graph)
    ActionChains(driver).move_to_element(target).perform()
    _wait_tooltip(driver, "hovering a graph node")
    screenshot(driver, "small-graph-hover")   # the page: the tooltip may stick out of the graph
    _move_away(driver)

    # trace: a bar per task, lanes, scrubber, zoom, tooltip
    trace = _output_of(driver, 5, ".treadle-trace")
    _wait_ready(driver, trace, "the trace's first draw")
    assert _int(trace, "data-bars") == SMALL_TASKS
    lanes = _int(trace, "data-lanes")
    assert lanes >= 2
    assert len(trace.find_elements(By.CSS_SELECTOR, ".treadle-trace-lane")) == lanes
    assert _int(trace, "data-transfers") >= 0
    assert _visible(trace.find_element(By.TAG_NAME, "canvas"))
    assert all(not s.is_displayed() for s in trace.find_elements(By.CSS_SELECTOR, ".treadle-static"))
    assert _draw_ms(trace) < 2000
    assert _int(trace, "data-visible-bars") == SMALL_TASKS
    screenshot(trace, "small-trace")
    _hover_a_bar(driver, trace)
    screenshot(trace, "small-trace-hover")
    _move_away(driver)
    _zoom_changes_the_view(driver, trace)
    _scrubber_to_start_hides_bars(driver, trace)
    assert trace.find_element(By.CSS_SELECTOR, ".treadle-play").is_displayed()
    screenshot(trace, "small-trace-scrubbed")

    # saved, then opened where there is no treadle kernel and the notebook is not trusted:
    # no script runs, the static pictures show
    save(driver)
    _static_fallbacks_show(browser, notebook_server, bare_notebook_server, name, "small")


def _into_view(driver, element):
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)


def _hover_a_bar(driver, trace):
    """Finds a point over a bar (synthetic mouse moves along each lane's row), then hovers it
    with the real mouse and waits for the tooltip."""
    canvas = trace.find_element(By.TAG_NAME, "canvas")
    _into_view(driver, trace)
    point = driver.execute_script("""
        var root = arguments[0], canvas = root.querySelector('canvas');
        var r = canvas.getBoundingClientRect();
        function shown() {
          return Array.prototype.some.call(document.querySelectorAll('.treadle-tooltip'), function (t) {
            var b = t.getBoundingClientRect(), s = getComputedStyle(t);
            return b.width > 0 && b.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; });
        }
        var ys = Array.prototype.map.call(root.querySelectorAll('.treadle-trace-lane'), function (l) {
          var b = l.getBoundingClientRect(); return b.top + b.height / 2; })
          .filter(function (y) { return y > r.top && y < r.bottom; });
        for (var y = r.top + 2; y < r.bottom; y += 4) ys.push(y);
        for (var i = 0; i < ys.length; i++) {
          for (var x = r.left + 1; x < r.right; x += 1) {
            canvas.dispatchEvent(new MouseEvent('mousemove', {clientX: x, clientY: ys[i], bubbles: true}));
            if (shown()) {
              canvas.dispatchEvent(new MouseEvent('mouseleave', {clientX: x, clientY: ys[i], bubbles: true}));
              canvas.dispatchEvent(new MouseEvent('mouseout', {clientX: x, clientY: ys[i], bubbles: true}));
              return [x - r.left, ys[i] - r.top, r.width, r.height];
            }
          }
        }
        return null;""", trace)
    assert point is not None, "no point of the trace canvas shows a tooltip\n" + console_log(driver)
    x, y, w, h = point
    _move_away(driver)
    # move_to_element_with_offset: from the element's centre (Selenium 4)
    ActionChains(driver).move_to_element_with_offset(canvas, int(x - w / 2), int(y - h / 2)).perform()
    _wait_tooltip(driver, "hovering a trace bar")


def _trace_view(driver, trace):
    """What zooming may change: the visible bars, the scrubber, the canvas's pixels."""
    return driver.execute_script(
        "var r = arguments[0]; return [r.getAttribute('data-visible-bars'), r.querySelector('.treadle-scrubber').value,"
        " r.querySelector('canvas').toDataURL()];", trace)


def _zoom_changes_the_view(driver, trace):
    canvas = trace.find_element(By.TAG_NAME, "canvas")
    before = _trace_view(driver, trace)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", canvas)
    wheel = ActionChains(driver)
    for _ in range(3):   # the real wheel, over the middle of the canvas: zoom in
        wheel.scroll_from_origin(ScrollOrigin.from_element(canvas), 0, -240)
    wheel.perform()
    wait_for(driver, lambda d: _trace_view(d, trace) != before, 5,
             what="zooming with the wheel changed the trace (visible bars, scrubber or drawing)")
    _responsive(driver)


def _scrubber_to_start_hides_bars(driver, trace):
    scrubber = trace.find_element(By.CSS_SELECTOR, "input[type=range].treadle-scrubber")
    assert scrubber.is_displayed()
    # with the keyboard, as a user would: End (the whole run), then Home (its start)
    scrubber.send_keys(Keys.END)
    wait_for(driver, lambda d: d.execute_script("return arguments[0].value === arguments[0].max;", scrubber), 5,
             what="the scrubber at its end")
    full = _int(trace, "data-visible-bars")
    scrubber.send_keys(Keys.HOME)
    wait_for(driver, lambda d: _int(trace, "data-visible-bars") < full, 5,
             what="moving the scrubber to the start reduced data-visible-bars (from {})".format(full))


def _static_fallbacks_show(driver, server, bare_server, name, shot):
    """Opens the saved notebook on the bare server (no kernelspec: the page asks for a kernel and
    the test goes on without one; another notary: the notebook is untrusted)."""
    src = server.notebook_path(name)
    nb = nbformat.read(src, as_version=4)
    assert any(o.get("data", {}).get("text/html", "").find("treadle-graph") >= 0
               for c in nb.cells for o in c.get("outputs", [])), "the saved notebook has no graph output"
    nbformat.write(nb, bare_server.notebook_path(name))
    driver.get(bare_server.url("notebooks/" + name))
    button = wait_for(driver, lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, ".modal-dialog button")
                                         if b.text.strip() == "Continue Without Kernel"], 20,
                      what="the 'Kernel not found' dialog")[0]
    button.click()
    js_wait(driver, "!document.querySelector('.modal-dialog')", what="the dialog closed")
    wait_for(driver, lambda d: page_state(d).get("loaded"), 20, what="the notebook loaded without a kernel")
    assert driver.execute_script("return Jupyter.notebook.trusted;") is False, "the copy is trusted: scripts would run"
    assert driver.execute_script("return !Jupyter.notebook.kernel || !Jupyter.notebook.kernel.is_connected();")
    for kind in ("graph", "trace"):
        root = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".treadle-" + kind), 10,
                        what="the {} output in the untrusted notebook".format(kind))[0]
        assert root.get_attribute("data-ready") != "1", "a script ran in the untrusted notebook"
        static = [s for s in root.find_elements(By.CSS_SELECTOR, ".treadle-static") if _visible(s)]
        assert static, "no visible static {} picture (.treadle-static) in the untrusted notebook: {}".format(
            kind, root.get_attribute("outerHTML")[:1500])
        # an <img> must have decoded (a broken one shows an icon of nonzero size too)
        assert driver.execute_script("var e = arguments[0]; return e.tagName.toLowerCase() !== 'img'"
                                     " || (e.complete && e.naturalWidth > 0);", static[0]), \
            "the static {} picture did not decode: {}".format(kind, static[0].get_attribute("outerHTML")[:300])
        # nothing that pretends to work, and no loose text of a dropped SVG: the picture, and
        # the widget's head (its summary and legend)
        controls = root.find_elements(By.CSS_SELECTOR, "button, input, canvas, svg, progress")
        assert not controls, "the untrusted {} shows {}".format(kind, [c.tag_name for c in controls])
        head = root.find_element(By.CSS_SELECTOR, ".treadle-{}-head".format(kind))
        assert root.text.strip() == head.text.strip(), "loose text in the untrusted {}: {!r}".format(
            kind, root.text[:500])
        screenshot(static[0], "{}-{}-static".format(shot, kind))
    screenshot(driver, "{}-untrusted-page".format(shot))


# ---------------------------------------------------------------------------------------------
# 100,000 tasks: the graph aggregates, the trace downsamples, the page stays responsive

@pytest.mark.timeout(360)   # a hang's bound, not a speed target
def test_a_hundred_thousand_tasks(open_and_run, notebook_server, bare_notebook_server, browser):
    name = "big.ipynb"
    path = write_notebook(notebook_server.notebook_path(name),
                          [WORKERS, BIG_PLAN, BIG_SUBMIT, "%treadle graph root", "%treadle trace"])
    started = time.monotonic()
    driver = open_and_run(path, timeout=240)
    ran = time.monotonic() - started

    progress = _output_of(driver, 2, ".treadle-progress")
    assert progress.get_attribute("data-state") == "done"
    assert _int(progress, "data-done") == _int(progress, "data-total") > 0
    # a bar per label group (the consts, the chunks' merges, the root), each full
    groups = driver.find_elements(By.CSS_SELECTOR, ".treadle-progress-group")
    assert sorted(_int(g, "data-total") for g in groups) == [1, BIG_CONSTS // BIG_CHUNK, BIG_CONSTS]
    assert all(_int(g, "data-done") == _int(g, "data-total") for g in groups)
    assert all(_visible(g.find_element(By.TAG_NAME, "progress")) for g in groups)
    screenshot(progress.find_element(By.XPATH, ".."), "big-progress")

    graph = _output_of(driver, 3, ".treadle-graph")
    _wait_ready(driver, graph, "the big graph's script ran", 20)
    assert _int(graph, "data-tasks") == BIG_TASKS
    assert graph.get_attribute("data-aggregated") == "1"
    nodes = graph.find_elements(By.CSS_SELECTOR, "svg g.treadle-node")
    assert 0 < len(nodes) == _int(graph, "data-nodes") <= 500, len(nodes)
    groups = graph.find_elements(By.CSS_SELECTOR, "svg g.treadle-node.treadle-group")
    assert groups and all(_int(g, "data-count") >= 1 for g in groups)
    assert sum(_int(g, "data-count") for g in groups) + len(nodes) - len(groups) == BIG_TASKS
    screenshot(graph, "big-graph")
    _into_view(driver, graph)
    ActionChains(driver).move_to_element(groups[0]).perform()
    _wait_tooltip(driver, "hovering a group node")
    _move_away(driver)
    _responsive(driver)

    trace = _output_of(driver, 4, ".treadle-trace")
    _wait_ready(driver, trace, "the big trace's first draw", 20)
    # the server keeps the last 200,000 events: transfers may have pushed out some tasks
    assert 50_000 <= _int(trace, "data-bars") <= BIG_TASKS
    draw_ms = _draw_ms(trace)
    print("100,000 tasks: ran in {:.1f} s; graph {} nodes; trace {} bars, {} visible, {} lanes, first draw {} ms".format(
        ran, len(nodes), trace.get_attribute("data-bars"), trace.get_attribute("data-visible-bars"),
        trace.get_attribute("data-lanes"), draw_ms))
    assert _int(trace, "data-lanes") >= 2
    _responsive(driver)
    screenshot(trace, "big-trace")
    # the transfers: the true count, and at most a few hundred arrows drawn (aggregated)
    arrows, transfers = _int(trace, "data-transfer-arrows"), _int(trace, "data-transfers")
    assert arrows <= 600 and arrows <= transfers
    if transfers > 300:
        text = _find_tip(driver, trace, " transfers ")
        assert text is not None and " in all" in text, text
        ActionChains(driver).move_to_element(trace.find_element(By.TAG_NAME, "canvas")).perform()
        driver.execute_script("""
            var root = arguments[0], canvas = root.querySelector('canvas'), r = canvas.getBoundingClientRect();
            var rows = root.querySelectorAll('.treadle-trace-lane, .treadle-trace-cpu');
            for (var y = r.top + 1; y < r.bottom; y += 2) for (var x = r.left + 1; x < r.right; x += 2) {
              canvas.dispatchEvent(new MouseEvent('mousemove', {clientX: x, clientY: y, bubbles: true}));
              var tip = root.querySelector('.treadle-tooltip');
              if (tip && tip.style.display !== 'none' && tip.textContent.indexOf(' transfers ') >= 0) return;
            }""", trace)
        screenshot(trace, "big-trace-transfers")
    _zoom_changes_the_view(driver, trace)
    _scrubber_to_start_hides_bars(driver, trace)
    _responsive(driver)
    screenshot(driver, "big-page")

    save(driver)
    _static_fallbacks_show(browser, notebook_server, bare_notebook_server, name, "big")


# ---------------------------------------------------------------------------------------------
# Graph shapes: wide ones are staggered (unflatten) or scroll, never shrink below readable labels;
# the trace of the run shows cpu strips and the placement of each task

SHAPES_PLAN = """\
import treadle
from treadle.loom.client import tasks

# a 40-way map-reduce
maps = [tasks.const(str(i)) for i in range(40)]
for i, t in enumerate(maps):
    t.label = "map:{}".format(i)
reduce = tasks.merge(maps, ",")
reduce.label = "reduce"

# a chain of 10 steps
step = tasks.const("0")
step.label = "step:0"
for i in range(1, 10):
    step = tasks.merge([step])
    step.label = "step:{}".format(i)
chain_end = step

# a 3-level tree: 14 branches of 20 leaves (295 tasks)
branches = []
for j in range(14):
    leaves = [tasks.const(str(k)) for k in range(20)]
    for k, t in enumerate(leaves):
        t.label = "leaf:{}.{}".format(j, k)
    b = tasks.merge(leaves)
    b.label = "branch:{}".format(j)
    branches.append(b)
tree_root = tasks.merge(branches)
tree_root.label = "root"

# diamonds: 8 levels of 6, each task merging 2 or 3 of the level above
import random
rng = random.Random(7)
level = [tasks.const("x")]
level[0].label = "src"
for depth in range(8):
    nxt = []
    for k in range(6):
        t = tasks.merge(rng.sample(level, min(len(level), 2 + (k % 2))))
        t.label = "d{}:{}".format(depth, k)
        nxt.append(t)
    level = nxt
sink = tasks.merge(level)
sink.label = "sink"

# a few programs that spin (the cpu strips have something to show)
spins = [tasks.run(["/bin/sh", "-c", "i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done; echo $i"])
         for _ in range(4)]
for i, t in enumerate(spins):
    t.label = "spin:{}".format(i)
"""
SHAPES_SUBMIT = """\
%%treadle submit --name shapes
r1 = reduce
r2 = chain_end
r3 = tree_root
r4 = sink
r5 = spins
"""
SHAPES = [("mapreduce", "reduce", 41), ("chain", "chain_end", 10), ("tree", "tree_root", 295),
          ("diamonds", "sink", None)]   # (what the sink reaches: most of the 50)

# The size a node's label has on screen: its font size scaled as the <svg> is.
_LABEL_PX = """
var root = arguments[0], t = root.querySelector('svg g.treadle-node text');
if (!t) return null;
var r = t.getBoundingClientRect(), b = t.getBBox(), svg = root.querySelector('.treadle-graph-view svg');
var view = root.querySelector('.treadle-graph-view'), s = svg.getBoundingClientRect();
return {px: parseFloat(t.getAttribute('font-size')) * r.height / b.height, svg_w: s.width, svg_h: s.height,
        view_w: view.clientWidth, scroll_w: view.scrollWidth};
"""


def _find_tip(driver, trace, wanted):
    """Moves a synthetic mouse along each lane (and cpu strip) of the trace until a tooltip
    containing ``wanted`` shows; returns its text, or None."""
    return driver.execute_script("""
        var root = arguments[0], wanted = arguments[1], canvas = root.querySelector('canvas');
        var r = canvas.getBoundingClientRect(), found = null;
        var rows = root.querySelectorAll('.treadle-trace-lane, .treadle-trace-cpu');
        for (var i = 0; i < rows.length && !found; i++) {
          var b = rows[i].getBoundingClientRect(), y = b.top + b.height / 2;
          for (var x = r.left + 1; x < r.right && !found; x += 2) {
            canvas.dispatchEvent(new MouseEvent('mousemove', {clientX: x, clientY: y, bubbles: true}));
            var tip = root.querySelector('.treadle-tooltip');
            if (tip && tip.style.display !== 'none' && tip.textContent.indexOf(wanted) >= 0) found = tip.textContent;
          }
        }
        canvas.dispatchEvent(new MouseEvent('mouseleave', {bubbles: true}));
        return found;""", trace, wanted)


@pytest.mark.timeout(150)
def test_graph_shapes_stay_readable(open_and_run, notebook_server):
    cells = [WORKERS, SHAPES_PLAN, SHAPES_SUBMIT] + ["treadle.show({})".format(var) for _, var, _ in SHAPES] + \
            ["import time; time.sleep(1.2)   # a cpu sample after the run", "%treadle trace"]
    path = write_notebook(notebook_server.notebook_path("shapes.ipynb"), cells)
    driver = open_and_run(path, timeout=120)
    for k, (name, _, count) in enumerate(SHAPES):
        graph = _output_of(driver, 3 + k, ".treadle-graph")
        _wait_ready(driver, graph, "the {} graph's script ran".format(name))
        assert _int(graph, "data-nodes") == _int(graph, "data-tasks") == (count or _int(graph, "data-tasks"))
        assert _int(graph, "data-tasks") >= 10
        _into_view(driver, graph)
        m = driver.execute_script(_LABEL_PX, graph)
        print("{}: labels {:.1f} px on screen, svg {:.0f}x{:.0f}, view {} of {} px wide".format(
            name, m["px"], m["svg_w"], m["svg_h"], m["view_w"], m["scroll_w"]))
        screenshot(graph, "shape-" + name)
        assert round(m["px"], 1) >= 9.0, "{}: node labels are {:.1f} px on screen".format(name, m["px"])
        if m["svg_w"] > m["view_w"] + 1:
            assert m["scroll_w"] > m["view_w"], "{}: wider than its view, which does not scroll".format(name)
        if name == "mapreduce":   # staggered over several ranks: fits the output, not a 40-node row
            assert m["svg_w"] <= m["view_w"] + 1 and m["svg_w"] < 4 * m["svg_h"], m

    trace = _output_of(driver, 3 + len(SHAPES) + 1, ".treadle-trace")
    _wait_ready(driver, trace, "the trace's first draw")
    assert _int(trace, "data-transfer-arrows") <= max(_int(trace, "data-transfers"), 1) or \
        _int(trace, "data-transfers") == 0
    assert _int(trace, "data-cpu-strips") >= 1
    assert len(trace.find_elements(By.CSS_SELECTOR, ".treadle-trace-cpu")) == _int(trace, "data-cpu-strips")
    assert len(trace.find_elements(By.CSS_SELECTOR, ".treadle-trace-lane")) == _int(trace, "data-lanes")
    _into_view(driver, trace)
    placed = _find_tip(driver, trace, "placed: ")
    assert placed is not None, "no bar's tooltip says where the task was placed and why"
    # Chained tasks never queue (they start behind their inputs); the others say how long.
    waited = _find_tip(driver, trace, "queue wait")
    assert waited is not None and "placed: " in waited, "no bar's tooltip gives a queue wait"
    cpu = _find_tip(driver, trace, "cpu ")
    assert cpu is not None and "% of" in cpu, cpu
    screenshot(trace, "shapes-trace")
    _hover_a_bar(driver, trace)
    screenshot(trace, "shapes-trace-hover")


# ---------------------------------------------------------------------------------------------
# The teaching notebook, Run All: every picture ends final, in the page and in the saved file,
# also after its last cell stopped the workers; untrusted, only pictures

@pytest.mark.timeout(180)
def test_teaching_notebook_keeps_final_pictures(open_and_run, notebook_server, bare_notebook_server, browser):
    import os
    import shutil
    from tests.test_notebooks import ROOT, unfinished_pictures
    name = "teaching.ipynb"
    shutil.copy(os.path.join(ROOT, "notebooks", "teaching_parallel.ipynb"), notebook_server.notebook_path(name))
    live = [i for i, c in enumerate(nbformat.read(notebook_server.notebook_path(name), as_version=4).cells)
            if c.cell_type == "code" and "treadle.show(answer)" in c.source][0]
    driver = open_and_run(name, timeout=150)
    graph = _output_of(driver, live, ".treadle-graph")
    states = lambda d: sorted({n.get_attribute("data-state") for n in _output_of(
        d, live, ".treadle-graph").find_elements(By.CSS_SELECTOR, "svg g.treadle-node")})
    wait_for(driver, lambda d: set(states(d)) <= {"finished", "released"}, 10,
             what="every task of the live graph drawn finished", details=lambda: str(states(driver)))
    screenshot(graph, "teaching-live-graph")
    save(driver)
    saved = nbformat.read(notebook_server.notebook_path(name), as_version=4)
    assert unfinished_pictures(saved) == []
    summary = [o for o in saved.cells[live].outputs if o.get("output_type") == "display_data"][0]
    assert summary["data"]["text/plain"].endswith("; 9 finished"), summary["data"]["text/plain"]
    _static_fallbacks_show(browser, notebook_server, bare_notebook_server, name, "teaching")
