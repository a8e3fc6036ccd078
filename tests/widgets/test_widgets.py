"""The notebook widgets at the Python level: their MIME bundles (three types, SVG that parses,
the DOM contract's attributes), what the graph draws (nodes, edges, colours, states,
aggregation), the trace's columns and merging, the progress line, and the bounds at 100,000
tasks (payload sizes, render times). The graphs of real runs come from a local cluster."""

import base64
import json
import re
import time
import xml.etree.ElementTree as ET

import pytest

from treadle.loom.client import tasks
from treadle.core import lineage
from treadle.notebook import progress_monitor
from treadle.widgets import gantt, graph, progress, task_graph, transfers
from treadle.widgets.graph import GraphView, TaskGraph

from bench.widget_shapes import big_graph, chain_graph, trace_events

SVG = "{http://www.w3.org/2000/svg}"


# -- helpers ---------------------------------------------------------------------------------

def dom(html):
    """The HTML as the widget's script makes it: its interactive part (script.treadle-live)
    turned into elements."""
    def inflate(m):
        return json.loads(m.group(1))["html"]
    return re.sub(r'<script type="application/json" class="treadle-live">(.*?)</script>', inflate, html, flags=re.S)


def without_scripts(html):
    """What an HTML sanitizer (an untrusted notebook) keeps of the markup: no <script> or
    <style> elements, with their content."""
    return re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)


def parse_svg(text):
    """The <svg> element of an image/svg+xml document, or of the first inline <svg> in HTML
    (else of its <img> picture)."""
    if text.startswith("<?xml"):
        text = text.split("\n", 1)[1]
    else:
        inline = re.search(r"<svg.*?</svg>", without_scripts(text), re.S)
        if inline is None:
            img = re.search(r'<img class="treadle-static"[^>]*src="data:image/svg\+xml;base64,([^"]+)"', text)
            return parse_svg(base64.b64decode(img.group(1)).decode())
        text = inline.group(0)
    return ET.fromstring(text)


def nodes_of(svg):
    return [g for g in svg.iter(SVG + "g") if "treadle-node" in g.get("class", "").split()]


def looks(svg):
    """key -> the attributes that draw a task node: its rectangle's and its state group's
    (stroke and opacity are inherited from there)."""
    out = {}
    for group in svg.iter(SVG + "g"):
        if group.get("class") == "treadle-nodes":
            for node in group:
                if "treadle-node" in node.get("class", "").split():
                    out[node.get("data-key")] = dict(group.attrib, **node.find(SVG + "rect").attrib)
    return out


def edges_of(svg):
    return [g for g in svg.iter(SVG + "g") if g.get("class") == "treadle-edge"]


def root_attrs(html, cls):
    tag = re.search(r'<div class="{}"[^>]*>'.format(cls), html).group(0)
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag))


def check_bundle(bundle):
    assert set(bundle) == {"text/plain", "text/html", "image/svg+xml"}
    assert bundle["text/plain"] and "\n" not in bundle["text/plain"]
    parse_svg(bundle["image/svg+xml"])       # a standalone SVG document
    parse_svg(dom(bundle["text/html"]))      # the inline one
    html = bundle["text/html"]
    # where no script runs (an untrusted notebook), nothing but pictures and text: no loose
    # text of an inline SVG, no controls that do nothing
    static = without_scripts(html)
    for tag in ("<svg", "<button", "<input", "<canvas"):
        assert tag not in static, tag
    assert "<script>" in html and "<style>" in html            # inlined assets
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")   # nothing from a network
    assert "https://" not in html
    # the <img> fallback for sanitized outputs decodes to the same picture
    img = re.search(r'<img class="treadle-static"[^>]*src="data:image/svg\+xml;base64,([^"]+)"', html)
    assert img is not None
    parse_svg(base64.b64decode(img.group(1)).decode())


def view(g, states=None, **kwargs):
    v = GraphView(g, **kwargs)
    v.states = states or ["finished"] * len(g)
    return v


# -- the graph -------------------------------------------------------------------------------

def test_graph_bundle_nodes_edges_and_contract():
    g = chain_graph(5)
    b = view(g).bundle()
    check_bundle(b)
    attrs = root_attrs(b["text/html"], "treadle-graph")
    assert attrs["data-tasks"] == "6" and attrs["data-nodes"] == "6" and attrs["data-aggregated"] == "0"
    assert attrs["id"].startswith("treadle-graph-")
    for svg in (parse_svg(dom(b["text/html"])), parse_svg(b["image/svg+xml"])):
        nodes = nodes_of(svg)
        assert len(nodes) == 6 and len(edges_of(svg)) == 5
        assert {n.get("data-key") for n in nodes} == {str(i) for i in range(6)}
        assert {n.get("data-state") for n in nodes} == {"finished"}
    # hover texts ride on the interactive picture only, as attributes (no <title> text to leak)
    inline = parse_svg(dom(b["text/html"]))
    assert all("type: python" in n.get("data-tip") for n in nodes_of(inline))
    assert not list(inline.iter(SVG + "title"))
    assert "task graph: 6 tasks" in b["text/plain"]


def test_graph_colours_follow_label_groups_and_states_show():
    g = chain_graph(4, groups=("alpha", "omega"))
    states = ["finished", "running", "failed", "pending", "waiting"]
    svg = parse_svg(view(g, states=states).bundle()["image/svg+xml"])
    rects = looks(svg)
    fills = {k: r.get("fill") for k, r in rects.items()}
    assert len({fills[str(i)] for i in range(4)}) == 1          # one group, one colour
    assert fills["4"] != fills["0"]                              # another group, another colour
    assert rects["2"].get("stroke") == "#d62728"                 # failed: red border
    assert float(rects["1"].get("stroke-width")) > float(rects["0"].get("stroke-width"))   # running: thick
    assert float(rects["3"].get("fill-opacity")) < float(rects["0"].get("fill-opacity"))   # pending: pale
    assert {n.get("data-state") for n in nodes_of(svg)} == set(states)


def test_graph_legend_explains_every_state_drawn_in_the_users_words():
    g = chain_graph(4)
    states = ["finished", "running", "assigned", "assigned", "ready"]
    b = view(g, states=states).bundle()
    assert "1 ready, 2 queued, 1 running, 1 finished" in b["text/plain"]      # "assigned" is queued
    legend = re.search(r'<div class="treadle-state-legend">(.*?)</div>', b["text/html"]).group(1)
    explained = re.findall(r"</span> (\w+): ", legend)
    # what is drawn, and what a run goes through before it is drawn
    assert explained == ["waiting", "ready", "queued", "running", "finished", "failed"], explained
    assert "queued: on a worker, waiting for a cpu, an executor or its inputs" in legend
    assert "running: executing now" in legend


def test_graph_aggregates_above_the_threshold_and_expands_groups():
    n = graph.AGGREGATE_ABOVE + 500
    g = chain_graph(n - 1)
    b = view(g).bundle()
    check_bundle(b)
    attrs = root_attrs(b["text/html"], "treadle-graph")
    assert attrs["data-aggregated"] == "1" and attrs["data-tasks"] == str(n) and attrs["data-nodes"] == "2"
    svg = parse_svg(dom(b["text/html"]))
    groups = nodes_of(svg)
    assert all("treadle-group" in x.get("class") for x in groups)
    assert sorted(int(x.get("data-count")) for x in groups) == [1, n - 1]
    assert [e.get("data-count") for e in edges_of(svg)] == [str(n - 1)]
    # each group's own layout is embedded for a click (a sample of big groups)
    data = json.loads(re.search(r'<script type="application/json" class="treadle-data">(.*?)</script>',
                                b["text/html"], re.S).group(1))
    assert data["expansions"]["map"]["sampled"] and len(data["expansions"]["map"]["nodes"]) == graph.EXPAND_LIMIT
    assert data["expansions"]["reduce"]["count"] == 1
    # expand="map": that group, task by task
    small = GraphView(chain_graph(10), expand="map")
    small.states = ["finished"] * 11
    assert len(nodes_of(parse_svg(small.bundle()["image/svg+xml"]))) == 10
    assert "(group map)" in small.summary()
    # a group bigger than that is drawn from its first tasks, and the summary says so
    big = GraphView(g, expand="map")
    assert "task graph: {} tasks (group map: its first {} of {:,} tasks)".format(
        graph.AGGREGATE_ABOVE, graph.AGGREGATE_ABOVE, n - 1) in big.summary(), big.summary()
    # below the threshold nothing aggregates
    assert not view(chain_graph(graph.AGGREGATE_ABOVE - 1)).aggregated


def test_graph_of_task_objects_before_submission():
    maps = [tasks.const(str(i)) for i in range(3)]
    for i, t in enumerate(maps):
        t.label = "map:{}".format(i)
    total = tasks.merge(maps)
    total.label = "reduce"
    g = graph.collect({"all": [total, maps[0]]})
    assert len(g) == 4 and len(g.edges()) == 3
    v = graph.graph_view(total)
    assert v.states == ["pending"] * 4
    svg = parse_svg(v.bundle()["image/svg+xml"])
    assert {n.get("data-state") for n in nodes_of(svg)} == {"pending"}


def test_display_ids_are_unique():
    ids = {root_attrs(view(chain_graph(2)).bundle()["text/html"], "treadle-graph")["id"] for _ in range(5)}
    ids |= {root_attrs(gantt.TraceView(trace_events(10)).bundle()["text/html"], "treadle-trace")["id"]
            for _ in range(5)}
    assert len(ids) == 10


def test_wide_graphs_are_staggered_and_never_shrink_below_readable_labels():
    from treadle.widgets import layout
    edges = [(i, 40) for i in range(40)]               # a 40-way map-reduce: one rank of 40
    lay = layout.layout(41, edges, 64, 24, budget=5.0)   # (as a block: test_readable.py)
    assert len(set(lay.ys[:40])) > 1 and len(lay.edges) == 40
    assert lay.width < 1200 and lay.width < 5 * lay.height, (lay.engine, lay.width, lay.height)
    for (a, b), points in zip(edges, lay.edges):   # each edge from its tail towards its head, in order
        # (concentrated edges share their last stretch: some end where they join)
        assert abs(points[0][0] - lay.xs[a]) < 40 and abs(points[0][1] - lay.ys[a]) < 30
        assert lay.ys[a] < points[-1][1] <= lay.ys[b]
    fallback = layout.layered(41, edges, 64, 24)
    assert fallback.stagger > 1 and fallback.width < 1200
    chain = layout.layout(10, [(i, i + 1) for i in range(9)], 64, 24, budget=5.0)
    assert chain.stagger == 1
    lonely = layout.layout(60, [], 64, 24, budget=5.0)   # unconnected nodes: chained by unflatten -c
    assert lonely.width < 1200 and lonely.edges == []
    # the picture: 1 px per unit at most, shrunk to the output's width but not below 12 px labels
    svg_tag = re.search(r"<svg[^>]*>", dom(view(chain_graph(40)).bundle()["text/html"])).group(0)
    width = float(re.search(r' width="([\d.]+)"', svg_tag).group(1))
    min_width = float(re.search(r"min-width:([\d.]+)px", svg_tag).group(1))
    assert min_width >= width * graph.LABEL_MIN_PX / graph.TASK_FONT - 1
    assert 'font-size="{}"'.format(graph.TASK_FONT) in dom(view(chain_graph(40)).bundle()["text/html"])


def test_layout_is_cached_and_dot_has_a_fallback():
    from treadle.widgets import layout
    edges = [(0, 2), (1, 2)]
    first = layout.layout(3, edges, budget=5.0)
    assert layout.layout(3, edges, budget=5.0) is first
    fallback = layout.layered(3, edges)
    assert fallback.ys[2] > fallback.ys[0]          # inputs above their consumer
    assert len(fallback.edges) == 2


# -- the trace -------------------------------------------------------------------------------

def test_trace_bundle_lanes_bars_transfers():
    tr = trace_events(30, workers=2, lanes=2, transfers=4)
    tv = gantt.TraceView(tr)
    b = tv.bundle()
    check_bundle(b)
    html = dom(b["text/html"])
    attrs = root_attrs(html, "treadle-trace")
    assert attrs["data-bars"] == "30" and attrs["data-lanes"] == "4" and attrs["data-transfers"] == "4"
    assert attrs["data-merged"] == "0"
    assert html.count('class="treadle-trace-lane"') == 4
    assert '<canvas class="treadle-trace-canvas"' in html and 'class="treadle-scrubber"' in html
    assert 'class="treadle-play"' in html
    assert parse_svg(html).get("class") == "treadle-static"
    payload = tv.payload()
    assert len(payload["s"]) == 30 and sum(payload["s"]) == max(tv.rows)[0]     # delta-coded starts
    assert sorted(payload["t"]) == list(range(30))
    assert [g for g, _ in payload["groups"]] == ["map", "reduce"]
    # a window keeps what overlaps it
    start = min(e["start_us"] for e in tr["events"] if e["kind"] == "task")
    assert gantt.TraceView(tr, window=(start, start + 1)).task_count < 30


def test_trace_merges_bars_above_the_limit():
    n = gantt.BAR_LIMIT * 2
    tv = gantt.TraceView(trace_events(n, groups=("map",)))
    assert tv.merged and len(tv.bars) <= gantt.BAR_LIMIT
    payload = tv.payload()
    assert sum(payload["n"]) == n                       # every task is in one segment
    attrs = root_attrs(tv.bundle()["text/html"], "treadle-trace")
    assert attrs["data-bars"] == str(n) and int(attrs["data-segments"]) == len(tv.bars)
    # groups that alternate faster than a pixel: cells coloured by the busiest group
    tv = gantt.TraceView(trace_events(n, groups=("a", "b", "c")))
    assert tv.merged and len(tv.bars) <= gantt.BAR_LIMIT and sum(b[4] for b in tv.bars) == n


def test_transfers_above_the_limit_are_aggregated_per_lanes_and_time_slot():
    tr = trace_events(200, workers=2, lanes=1, transfers=50_000)
    tv = gantt.TraceView(tr)
    assert tv.transfers_aggregated and len(tv.transfers) <= transfers.TRANSFER_ARROWS
    assert sum(t[5] for t in tv.transfers) == 50_000 and sum(t[4] for t in tv.transfers) == 50_000 * 10
    assert all(t[0] <= t[1] for t in tv.transfers)
    b = tv.bundle()
    check_bundle(b)
    attrs = root_attrs(b["text/html"], "treadle-trace")
    assert attrs["data-transfers"] == "50000" and attrs["data-transfer-arrows"] == str(len(tv.transfers))
    x = tv.payload()["x"]
    assert len(x["n"]) == len(x["s"]) == len(tv.transfers) and sum(x["n"]) == 50_000
    assert "transfers drawn as" in b["text/plain"]
    static = parse_svg(b["image/svg+xml"])
    widths = {p.get("stroke-width") for p in static.iter(SVG + "path") if p.get("stroke") == "#444"}
    assert len(widths) > 1                              # thicker arrows for more transfers
    # many pairs of lanes: still bounded (the busiest kept)
    events = trace_events(400, workers=40, lanes=1)["events"]
    for i in range(20_000):
        events.append({"kind": "transfer", "worker": i % 40, "from": (i * 7 + 1) % 40, "object": i, "size": 1,
                       "start_us": 1_000_000 + i, "end_us": 1_000_050 + i})
    tv = gantt.TraceView({"events": events, "workers": []})
    assert len(tv.transfers) <= transfers.TRANSFER_ARROWS and tv.transfer_count == 20_000
    # few transfers: one arrow each
    tv = gantt.TraceView(trace_events(30, workers=2, transfers=transfers.TRANSFER_LIMIT))
    assert not tv.transfers_aggregated and len(tv.transfers) == transfers.TRANSFER_LIMIT
    assert "n" not in tv.payload()["x"]


def test_trace_shows_cpu_strips_queue_waits_and_placements():
    tr = trace_events(40, workers=2, lanes=2)
    events = tr["events"]
    tasks_ = [e for e in events if e["kind"] == "task"]
    for e in tasks_:
        if e["task"] % 2 == 0:      # odd tasks are chained: no ready time
            e["ready_us"] = e["start_us"] - 100
        why = "chained behind its inputs on the same worker" if e["task"] % 2 else \
            "data locality ({} of 2000 input bytes there)".format(e["task"])
        events.append({"kind": "decision", "worker": e["worker"], "task": e["task"], "reason": "x", "why": why,
                       "cause": "first", "queued": False, "start_us": e["start_us"] - 200,
                       "end_us": e["start_us"] - 200})
    end = max(e["end_us"] for e in tasks_)
    for w in range(2):
        for k in range(2000):       # more samples than are sent: averaged
            t = 999_000 + k * (end - 999_000) // 1500
            events.append({"kind": "sample", "worker": w, "cpu": 50.0 + w * 25, "rss": 10_000_000,
                           "store": 2_000_000, "spilled": 0, "start_us": t, "end_us": t})
    tr["workers"] = [{"id": w, "name": "w{}".format(w), "cpus": 2} for w in range(2)]
    tv = gantt.TraceView(tr)
    p = tv.payload()
    assert len(p["cpu"]) == 2 and all(len(c["t"]) <= gantt.CPU_POINTS for c in p["cpu"])
    assert [c["name"] for c in p["cpu"]] == ["w0", "w1"] and p["cpu"][1]["c"][0] == 75.0
    assert p["cpu"][0]["m"][0] == 10.0
    # each worker's strip sits above its first lane
    assert p["ly"] == [gantt.CPU_H, gantt.CPU_H + gantt.ROW,
                       2 * gantt.CPU_H + 2 * gantt.ROW, 2 * gantt.CPU_H + 3 * gantt.ROW]
    assert p["h"] == 2 * gantt.CPU_H + 4 * gantt.ROW
    by_task = dict(zip(p["t"], zip(p["q"], p["y"])))
    assert by_task[0][0] == 100 and by_task[1][0] == -1                  # queue wait: start - ready
    assert p["whys"][by_task[1][1]].startswith("chained")
    assert "0 of 2000" in p["whys"][by_task[0][1]]
    b = tv.bundle()
    check_bundle(b)
    html = dom(b["text/html"])
    attrs = root_attrs(html, "treadle-trace")
    assert attrs["data-cpu-strips"] == "2" and attrs["data-lanes"] == "4"
    assert html.count('class="treadle-trace-lane"') == 4 and html.count('class="treadle-trace-cpu"') == 2
    # interned placement texts stay bounded
    for e in events:
        if e["kind"] == "decision" and "task" in e:
            e["why"] = "data locality ({} of {} input bytes there)".format(e["task"], e["task"] * 3)
    old = gantt.WHY_LIMIT
    gantt.WHY_LIMIT = 5
    try:
        p = gantt.TraceView(tr).payload()
    finally:
        gantt.WHY_LIMIT = old
    assert len(p["whys"]) <= 6 and "data locality (… of … input bytes there)" in p["whys"]
    # merged bars carry the mean wait of their queued tasks
    big = trace_events(gantt.BAR_LIMIT + 10, groups=("map",))
    for e in big["events"]:
        if e["kind"] == "task":
            e["ready_us"] = e["start_us"] - 10
    p = gantt.TraceView(big).payload()
    assert set(p["q"]) == {10}


# -- bounds at 100,000 tasks ----------------------------------------------------------------------

def test_hundred_thousand_task_graph_is_bounded():
    """Bounded in size (how fast it renders is bench/widgets_bench.py's figure)."""
    g = big_graph()
    start = time.perf_counter()
    v = view(g)
    b = v.bundle()
    first = time.perf_counter() - start
    size = sum(len(x) for x in b.values())
    start = time.perf_counter()
    v.states = ["running"] * len(g)
    v.bundle()                                          # a live recolouring: no new layout
    again = time.perf_counter() - start
    print("graph of {} tasks: {:.0f} KB, first render {:.2f} s, recolouring {:.2f} s".format(
        len(g), size / 1024, first, again))
    assert v.aggregated and size < 200_000
    assert int(root_attrs(b["text/html"], "treadle-graph")["data-nodes"]) == 3


def test_hundred_thousand_task_trace_is_bounded():
    tr = trace_events(100_000, workers=8, lanes=4, groups=("map", "map", "reduce"), transfers=20_000)
    start = time.perf_counter()
    tv = gantt.TraceView(tr)
    b = tv.bundle()
    took = time.perf_counter() - start
    size = sum(len(x) for x in b.values())
    print("trace of 100000 tasks: {:.0f} KB ({} segments), render {:.2f} s".format(size / 1024, len(tv.bars), took))
    assert tv.merged and len(tv.bars) <= gantt.BAR_LIMIT
    assert len(tv.transfers) <= transfers.TRANSFER_ARROWS and sum(t[5] for t in tv.transfers) == 20_000
    assert size < 1_500_000
    attrs = root_attrs(b["text/html"], "treadle-trace")
    assert attrs["data-bars"] == "100000" and attrs["data-transfers"] == "20000"
    assert attrs["data-transfer-arrows"] == str(len(tv.transfers))


# -- progress ------------------------------------------------------------------------------------

def test_progress_bundle_follows_the_contract():
    p = progress.Progress("run", 10)
    p.add(3)
    p.set_running(2)
    b = p.bundle()
    assert set(b) == {"text/plain", "text/html", "image/svg+xml"}
    parse_svg(b["image/svg+xml"])
    attrs = root_attrs(b["text/html"], "treadle-progress")
    assert attrs == {"class": "treadle-progress", "data-state": "running", "data-done": "3", "data-failed": "0",
                     "data-cancelled": "0", "data-running": "2", "data-queued": "0", "data-total": "10"}
    assert '<progress value="3" max="10"' in b["text/html"]
    assert "3/10 done, 2 running, 0 failed" in b["text/plain"] and "ETA" in b["text/plain"]
    p.add(6, failed=[99])
    attrs = root_attrs(p.bundle()["text/html"], "treadle-progress")
    assert attrs["data-state"] == "failed" and attrs["data-done"] == "9" and attrs["data-failed"] == "1"
    assert "ETA" not in p.text() and " in " in p.text()
    q = progress.Progress("x", 4)
    q.cancelled()
    assert root_attrs(q.bundle()["text/html"], "treadle-progress")["data-state"] == "cancelled"


def test_a_progress_line_counts_cancelled_tasks_apart_from_done_ones():
    """The scheduler says which tasks were cancelled: the line counts them, never as done, and
    ends "cancelled" once every task ended so; the cell's own end adds the scheduler's last word."""
    p = progress.Progress("run", 5)
    p.add(1, finished_ids=[1])
    p.add(0, cancelled=[2, 3])
    assert "1/5 done, 0 running, 0 failed, 2 cancelled" in p.text() and p.state is None
    p.add(0, cancelled=[3, 4, 5])            # counted once each
    attrs = root_attrs(p.bundle()["text/html"], "treadle-progress")
    assert (attrs["data-state"], attrs["data-done"], attrs["data-cancelled"]) == ("cancelled", "1", "4")
    assert p.text().startswith("run: 1/5 done, 0 failed, 4 cancelled in ") and p.text().endswith("(cancelled)")
    assert len(parse_svg(p.bundle()["image/svg+xml"]).findall(SVG + "rect")) == 4   # track, done, failed, cancelled
    # A job's line (%%treadle submit) whose cell cancelled one of its own futures: counted, and
    # the line ends as the others did, "done" (or "failed"), unless the cell cancels its tasks.
    own = progress.Progress("submit", 2, cancels_end_it=False)
    own.add(0, cancelled=[2])
    own.add(1, finished_ids=[1])
    attrs = root_attrs(own.bundle()["text/html"], "treadle-progress")
    assert (attrs["data-state"], attrs["data-done"], attrs["data-cancelled"]) == ("done", "1", "1")
    assert own.text().startswith("submit: 1/2 done, 0 failed, 1 cancelled in ") and own.text().endswith("tasks/s)")
    interrupted = progress.Progress("submit", 2, cancels_end_it=False)
    interrupted.cancelling()
    interrupted.add(1, finished_ids=[1], cancelled=[2])
    assert interrupted.state == "cancelled" and interrupted.text().endswith("(cancelled)")
    q = progress.Progress("job", 3)
    q.cancelled()                            # the cell ends the line first ...
    q.add(1, finished_ids=[1], cancelled=[2, 3], final=True)   # ... the monitor's last count follows
    assert "1/3 done, 0 failed, 2 cancelled" in q.text() and q.state == "cancelled"
    said = ["released", "cancelled", "running", "finished", "assigned"]
    assert progress_monitor.count_states([1, 2, 3, 4, 5], said) == ([1, 4], [], [2], {"running": 1, "queued": 1})


def test_progress_line_is_a_view_and_the_monitor_is_the_notebooks():
    # The line draws; what follows the tasks (a thread and a connection) is the notebook layer's.
    assert not hasattr(progress, "ProgressMonitor")
    assert progress_monitor.ProgressMonitor.track


# -- graphs of real runs (plans remembered by lineage) -------------------------------------------

@pytest.fixture
def remembering():
    was = lineage.enabled()
    lineage.enable()
    yield
    if not was:
        lineage.disable()


def test_graph_and_trace_of_a_real_run(remembering, make_cluster):
    import treadle
    cluster = make_cluster(workers=2)
    with treadle.Client(cluster) as c:
        def square(x):
            return x * x
        parts = [c.submit(square, i) for i in range(6)]
        total = c.submit(sum, parts)
        assert total.result() == 55
        v = graph.graph_view(total)
        # the function objects the native API sends with calls are not drawn
        assert len(v.graph) == 7 and len(v.graph.edges()) == 6
        assert set(v.states) <= {"finished", "released"}
        assert any(d[4] >= 0 for d in v.details.values())           # durations and sizes from the trace
        svg = parse_svg(dom(v.bundle()["text/html"]))
        assert "duration:" in nodes_of(svg)[0].get("data-tip")
        # the hover tells why each task is here: its last steps, with the worker (its story)
        tips = [n.get("data-tip") for n in nodes_of(svg)]
        # ... naming the worker as the hover's "worker:" line does
        names = {w["name"] for w in c.status()["workers"]}
        assert all(any("running -> finished: worker reported the result, on " + n in t for n in names) for t in tips), tips
        assert not any("tcp://" in t for t in tips), tips
        # HyperLoom tasks: once submitted, the Task objects map to their ids
        maps = [tasks.const(str(i)) for i in range(3)]
        total2 = tasks.merge(maps)
        future = c.core.submit([total2])[0]
        c.core.wait([future])
        v2 = graph.graph_view(total2)
        assert len(v2.graph) == 4 and all(i is not None for i in v2.graph.ids)
        assert set(v2.states) <= {"finished", "released"}
        assert task_graph.from_submissions(lineage.last_submission()).ids[-1] == future.task_id
        tv = gantt.trace_view(c)
        assert tv.task_count >= 11 and len(tv.lane_keys) >= 2


def test_a_cancelled_run_is_drawn_cancelled_never_done(remembering, make_cluster):
    """Two workers run a task each, a third waits queued, a sum waits for them: all cancelled.
    The graph draws them cancelled (faint, a dotted grey border), not as done (the server's
    word once their plan is freed: tests/e2e/test_cancelled_state.py)."""
    import treadle
    from tests.conftest import wait_until
    from treadle.widgets import states as task_states
    cluster = make_cluster(workers=2)
    with treadle.Client(cluster) as c:
        def slow(i):
            time.sleep(60)
            return i
        parts = [c.submit(slow, i) for i in range(3)]
        total = c.submit(sum, parts)
        c.flush()
        v = graph.graph_view(total)
        wait_until(lambda: v.refresh().states.count("running") == 2, timeout=30,
                   what="two tasks running")
        assert sorted(v.states) in (["assigned", "running", "running", "waiting"],
                                    ["ready", "running", "running", "waiting"]), v.states
        report = c.cancel(parts + [total])
        assert report.cancelled == 4, report
        v = graph.graph_view(total)
        assert v.states == ["cancelled"] * 4, v.states
        b = v.bundle()
        check_bundle(b)
        assert "4 cancelled" in b["text/plain"], b["text/plain"]
        legend = re.search(r'<div class="treadle-state-legend">(.*?)</div>', b["text/html"]).group(1)
        assert "cancelled: cancelled before it finished" in legend and "or cancelled" not in legend, legend
        opacity, stroke, width, dash = task_states.STYLE["cancelled"]
        for svg in (parse_svg(dom(b["text/html"])), parse_svg(b["image/svg+xml"])):
            drawn = looks(svg)
            assert len(drawn) == 4, drawn
            for node in drawn.values():
                assert (node["stroke"], node["stroke-dasharray"]) == (stroke, dash), node
                assert float(node["fill-opacity"]) == opacity < task_states.STYLE["waiting"][0]
            assert {n.get("data-state") for n in nodes_of(svg)} == {"cancelled"}


def test_a_server_restarted_on_the_same_port_is_not_drawn_with_the_old_ones_plans(remembering, make_cluster):
    # CI met this: a test's server took a port an earlier test's server had used, task ids
    # started again at the same numbers, and the graph drew the earlier run's tasks.
    import treadle
    first = make_cluster(workers=1)
    port = first.address[1]
    with treadle.Client(first) as c:
        c.submit(len, "abc").result()
        c.submit(str, 1).result()
    first.close()
    again = make_cluster(workers=1, port=port)
    assert again.address[1] == port
    with treadle.Client(again) as c:
        parts = [c.submit(abs, -i) for i in range(3)]
        total = c.submit(sum, parts)
        assert total.result() == 3
        v = graph.graph_view(total)
        assert len(v.graph) == 4 and len(v.graph.edges()) == 3, v.graph


def test_largest_graph_drawn_task_by_task_is_bounded():
    g = chain_graph(graph.AGGREGATE_ABOVE - 1)
    start = time.perf_counter()
    v = view(g)
    b = v.bundle()
    took = time.perf_counter() - start
    size = sum(len(x) for x in b.values())
    print("graph of {} tasks, task by task: {:.0f} KB, render {:.2f} s ({})".format(
        len(g), size / 1024, took, v._task_layout()[0].engine))
    assert not v.aggregated and size < 2_500_000
    assert len(nodes_of(parse_svg(b["image/svg+xml"]))) == len(g)


def test_a_picture_never_moves_backwards():
    """Stopped workers make the server recompute or forget finished tasks: the graph keeps
    them finished; a task the server forgot keeps what was known of it."""
    from treadle.widgets import states
    before = ["running", "finished", "finished", "released", "failed", "assigned", "pending"]
    now = ["finished", "waiting", "released", "unknown", "waiting", "unknown", "unknown"]
    assert states.advance(before, now) == ["finished", "finished", "released", "released", "failed",
                                           "assigned", "unknown"]
    assert states.advance(["running"], ["assigned"]) == ["assigned"]   # requeued: not an end
    assert states.advance(["running", "cancelled"], ["cancelled", "unknown"]) == ["cancelled", "cancelled"]


def test_big_lines_show_a_bar_per_label_group():
    """Like Dask's progress(): from GROUP_BARS_ABOVE tasks in several label groups, a bar per
    group, counted from the ids the monitor hears (the biggest groups, the rest "other")."""
    n = progress.GROUP_BARS_ABOVE
    p = progress.Progress("job", n + 1)
    p.set_groups(dict([(i, "square") for i in range(n)] + [(n, "total")]))
    p.add(3, [], finished_ids=[0, 1, 2])
    p.add(0, [5])
    b = p.bundle()
    assert len(parse_svg(b["image/svg+xml"]).findall(SVG + "text")) == 5   # the line; per group its name and count
    rows = re.findall(r'<div class="treadle-progress-group" ([^>]*)>', b["text/html"])
    assert [dict(re.findall(r'([\w-]+)="([^"]*)"', r)) for r in rows] == [
        {"data-group": "square", "data-total": str(n), "data-done": "3", "data-failed": "1", "data-cancelled": "0"},
        {"data-group": "total", "data-total": "1", "data-done": "0", "data-failed": "0", "data-cancelled": "0"}]
    p.add(0, cancelled=[6, 7, n])
    assert p.groups[0][2:] == [3, 1, 2] and p.groups[1][2:] == [0, 0, 1]
    assert "3/{}, 1 failed, 2 cancelled".format(n) in p.bundle()["text/html"]
    p.complete(failed=True)
    assert p.groups[0][2:] == [3, 1, 2]
    small = progress.Progress("job", n - 1)
    small.set_groups(dict([(i, "a") for i in range(n - 2)] + [(n, "b")]))
    assert small.groups == [] and "treadle-progress-group\"" not in small.bundle()["text/html"]
    many = progress.Progress("job", 20 * n)
    many.set_groups({i: "g{}".format(i % 20) for i in range(20 * n)})
    assert len(many.groups) == progress.MAX_GROUP_BARS and many.groups[-1][0] == "other"
    assert sum(g[1] for g in many.groups) == 20 * n
