"""The task graph readable on a projector: whole labels at a size read from the back of a room,
and a wide fan-in (or a scatter-gather) drawn as one block gathering into one node, not as rows
that look like a chain behind a scrollbar."""

import re
import xml.etree.ElementTree as ET

from treadle.widgets import graph, layout
from treadle.widgets.graph import GraphView, TaskGraph

from .test_widgets import dom

SVG = "{http://www.w3.org/2000/svg}"


def fan_in(n, label="count:words", hub="reduce:merge_counts", scatter=False):
    """n tasks into one (``scatter``: all made from one source first)."""
    g = TaskGraph()
    src = g.add("s", "split:text", "loom/py/call", 10 ** 6, None) if scatter else None
    for i in range(n):
        j = g.add(str(i), "{}{}".format(label, i), "loom/py/call", i, None)
        if scatter:
            g.inputs[j] = [src]
    r = g.add("r", hub, "loom/py/call", n + 1, None)
    g.inputs[r] = [g.index(str(i)) for i in range(n)]
    return g


def drawn(g):
    v = GraphView(g)
    v.states = ["finished"] * len(g)
    html = dom(v.bundle()["text/html"])   # the interactive picture, as the widget's script makes it
    return v, ET.fromstring(re.search(r"<svg.*?</svg>", html, re.S).group(0)), html


def test_labels_are_whole_and_readable_from_the_back_of_a_room():
    assert graph.TASK_FONT >= 13 and graph.LABEL_MIN_PX >= 12 and graph.GROUP_FONT >= 14
    g = fan_in(5, label="count:words_of_chunk_")            # 21-22 characters: whole
    g.labels[0] = "x" * 40                                   # too long: cut at LABEL_CHARS
    v, svg, html = drawn(g)
    texts = [t.text for t in svg.iter(SVG + "text")]
    assert "count:words_of_chunk_3" in texts and "reduce:merge_counts" in texts, texts
    assert "x" * (graph.LABEL_CHARS - 1) + "…" in texts
    assert {t.get("font-size") for t in svg.iter(SVG + "text")} == {str(graph.TASK_FONT)}
    # every node is wide enough for its text at the widest characters (DejaVu Sans digits)
    lay, _ = v._task_layout()
    assert lay.node_w >= len("count:words_of_chunk_3") * 0.636 * graph.TASK_FONT
    # never shrunk below LABEL_MIN_PX on screen: the svg's min-width keeps that scale
    tag = re.search(r"<svg[^>]*>", html).group(0)
    natural = float(re.search(r' width="([\d.]+)"', tag).group(1))
    assert float(re.search(r"min-width:([\d.]+)px", tag).group(1)) >= natural * graph.LABEL_MIN_PX / graph.TASK_FONT - 1


def test_a_sixty_way_fan_in_reads_as_a_fan_in():
    v, svg, _ = drawn(fan_in(60))
    lay, _ = v._task_layout()
    # fits a notebook's output at 1 px per unit: no scrollbar, labels at their full size
    assert lay.width + 16 <= layout.TARGET_WIDTH, lay.width
    xs, ys = lay.xs[:60], lay.ys[:60]
    columns, rows = sorted(set(round(x) for x in xs)), sorted(set(round(y) for y in ys))
    assert len(columns) >= 3 and len(rows) >= 3, (columns, rows)
    assert len(columns) * len(rows) >= 60 and (len(columns) - 1) * len(rows) < 60   # one grid, filled in order
    # the sources are a tight grid above the reduce (rows closer than ranks), in reading order
    assert max(ys) < lay.ys[60] - lay.node_h and rows[1] - rows[0] < 2 * lay.node_h
    assert xs[0] < xs[1] and ys[0] == ys[1] and ys[len(columns)] > ys[0]
    # every edge gathers on one bus under the grid and ends at the reduce: one trunk, not 60 ways
    bottoms = set()
    for points in lay.edges:
        assert abs(points[-1][0] - lay.xs[60]) < 1 and abs(points[-1][1] - (lay.ys[60] - lay.node_h / 2)) < 1
        below = [p for p in points if p[1] > max(ys) + lay.node_h / 2]
        assert below, points
        bottoms.add(round(min(p[1] for p in below)))
    assert len(bottoms) == 1, bottoms
    assert len([g for g in svg.iter(SVG + "g") if g.get("class") == "treadle-edge"]) == 60


def test_a_scatter_gather_is_one_block_between_its_two_ends():
    v, _, _ = drawn(fan_in(30, label="square:", hub="total", scatter=True))
    lay, _ = v._task_layout()
    top, bottom = lay.ys[0], lay.ys[31]     # the source, the gather
    members = lay.ys[1:31]
    assert top < min(members) and max(members) < bottom and len(set(members)) > 1
    assert lay.width + 16 <= layout.TARGET_WIDTH
    for k, points in enumerate(lay.edges[:30]):     # source -> member: ends at the member's left side
        assert abs(points[-1][0] - (lay.xs[k + 1] - lay.node_w / 2)) < 1 and abs(points[-1][1] - lay.ys[k + 1]) < 1
    # a small map stays one row (eight squares side by side, as the teaching notebook shows)
    v, _, _ = drawn(fan_in(8, label="square", hub="total"))
    lay, _ = v._task_layout()
    assert len(set(lay.ys[:8])) == 1


def test_blocks_without_dot_too():
    edges = [(i, 60) for i in range(60)]
    lay = layout.layout(61, edges, 120, 28, engine="python")    # the Python layout (no dot, or past its budget)
    assert lay.engine == "python" and lay.width <= layout.TARGET_WIDTH
    assert len(set(lay.ys[:60])) >= 3 and max(lay.ys[:60]) < lay.ys[60]
    for points in lay.edges:
        assert (len(points) - 1) % 3 == 0          # a Bézier chain, as dot's
        assert abs(points[-1][0] - lay.xs[60]) < 1 and abs(points[-1][1] - (lay.ys[60] - 14)) < 1
