"""Where the nodes of a graph go: graphviz's ``dot`` (inputs above, consumers below), within a
time budget, else a fast layered layout in Python.

``dot`` is run once per graph shape (the result is cached: recolouring a graph as its tasks run
does not lay it out again), with its cheap options for bigger graphs (straight edges, fewer
network-simplex and crossing-minimisation passes). Beyond ``DOT_LIMIT`` nodes, or when dot is
missing or slower than the budget, the Python layout takes over: longest-path ranks, one
barycentre pass, wide ranks wrapped into rows; linear in nodes and edges.

**Wide graphs.** dot puts every input of a map-reduce on one rank: 40 maps become one row 40
nodes wide, which a notebook's output width would then shrink until nothing is readable. When
the widest rank (longest-path ranks, counted here in linear time) is much wider than the graph is
tall (``ASPECT``), graphviz's ``unflatten`` runs before dot: ``-l N`` staggers the edges of leaves
(and with ``-f`` of chains hanging off a fan-out) over N ranks, ``-c N`` stacks unconnected nodes
in chains of N (invisible edges, left out of the result), and dot concentrates edges
(``concentrate=true``: the staggered edges into one node share their way down instead of each
taking a column of its own through every rank). N is the fewest ranks that bring the
width to ``ASPECT`` times the height (or to ``TARGET_WIDTH``). The Python layout wraps wide ranks
into as many rows by the same rule. Both stay within the time budget.

**Fan-ins and fan-outs.** Nodes with the same single input (or none) and the same single consumer
(or none) form a *bundle*: a fan-in's sources, a fan-out's sinks, the maps between a scatter
and a gather. A bundle too wide for one row is laid out as one *block* (a grid of its members,
rows close together, about ``BLOCK_ASPECT`` times as wide as tall), which dot (or the Python
layout) places as one big node; its edges are then routed as a comb: from each member's side
down the gutter of its column to a bus under the block, and one way on to the consumer (above
the block, from the producer along a bus to each column). Sixty sources of a reduce read as
sixty arrows gathering into one, not as rows that look like a chain.
"""

import collections
import hashlib
import math
import os
import shutil
import subprocess
import threading
import time

DOT_LIMIT = 2500          # nodes dot is asked to lay out at most
SPLINES_LIMIT = 300       # up to this many nodes, edges are curves; above, straight lines
TARGET_WIDTH = 960         # px: a graph this wide needs no unflattening
ASPECT = 2.0               # wider than this times the height: stagger the wide ranks
MAX_STAGGER = 16           # ranks unflatten may spread leaves over (dot)
MAX_ROWS = 64              # rows the Python layout may wrap one rank into
NODESEP, RANKSEP = 0.12 * 72, 0.4 * 72     # px between nodes, between ranks (dot's small graphs)
BLOCK_GAP_X = 18           # px between the columns of a block: their gutters carry the edges
BLOCK_GAP_Y = 10           # px between its rows
BLOCK_BUS = 12             # px above / below a block for the bus its edges gather on
BLOCK_ASPECT = 2.5         # a block is about this many times as wide as tall
MIN_BUNDLE = 6             # members a bundle needs at least to become a block
BLOCKS_WIDTH = 1.5 * TARGET_WIDTH   # px all blocks may take side by side (else no blocks)
_CACHE_SIZE = 32

_cache = collections.OrderedDict()
_lock = threading.Lock()


class Layout:
    """Positions in pixels: node centres ``xs``/``ys``, the node size, each edge as a list
    of points (a cubic Bézier chain from dot: 1 + 3k points; else 2 points), the size."""

    __slots__ = ("xs", "ys", "node_w", "node_h", "edges", "width", "height", "engine", "stagger")

    def __init__(self, xs, ys, node_w, node_h, edges, width, height, engine, stagger=1):
        self.xs, self.ys, self.node_w, self.node_h = xs, ys, node_w, node_h
        self.edges, self.width, self.height, self.engine = edges, width, height, engine
        self.stagger = stagger   # ranks the widest rank was spread over (1: as it was)


def dot_program():
    return shutil.which("dot") or ("/usr/bin/dot" if os.path.exists("/usr/bin/dot") else None)


def unflatten_program():
    """graphviz's unflatten (in the same package as dot), or None."""
    found = shutil.which("unflatten")
    if found:
        return found
    dot = dot_program()
    near = os.path.join(os.path.dirname(dot), "unflatten") if dot else None
    return near if near and os.path.exists(near) else None


def layout(n, edges, node_w=64, node_h=24, budget=2.0, engine="auto"):
    """Lays out nodes 0..n-1 with ``edges`` [(tail, head)]; ``budget``: seconds dot may take."""
    edges = list(edges)
    key = hashlib.sha1("{}|{}|{}|{}".format(n, node_w, node_h, engine).encode()
                       + repr(edges).encode()).hexdigest()
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    blocks = bundles(n, edges, node_w, node_h)
    if blocks:
        result = _with_blocks(n, edges, node_w, node_h, budget, engine, blocks)
    else:
        result = _plain(n, edges, node_w, node_h, budget, engine)
    with _lock:
        _cache[key] = result
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def _plain(n, edges, node_w, node_h, budget, engine, sizes=None):
    """dot within the budget, else the Python layout; ``sizes``: (w, h) per node when they differ."""
    if engine in ("auto", "dot") and 0 < n <= DOT_LIMIT and dot_program():
        try:
            return _dot(n, edges, node_w, node_h, budget, sizes)
        except (subprocess.TimeoutExpired, subprocess.CalledProcessError, OSError, ValueError, IndexError,
                KeyError):
            pass
    return layered(n, edges, node_w, node_h, sizes)


def bundles(n, edges, node_w, node_h=24, gap_x=BLOCK_GAP_X):
    """The bundles too wide for one row: lists of nodes sharing their only input (or having
    none) and their only consumer (or having none), in node order. None of them when their
    blocks side by side would be wider than BLOCKS_WIDTH (a tree of many bundles: staggering
    the leaves serves it better)."""
    preds = [[] for _ in range(n)]
    succs = [[] for _ in range(n)]
    for a, b in edges:
        preds[b].append(a)
        succs[a].append(b)
    groups = collections.defaultdict(list)
    for i in range(n):
        if len(preds[i]) <= 1 and len(succs[i]) <= 1:
            groups[(tuple(preds[i]), tuple(succs[i]))].append(i)
    wide = max(MIN_BUNDLE, int(TARGET_WIDTH // (node_w + gap_x)))
    found = [members for members in groups.values() if len(members) > wide]
    side_by_side = sum(block_shape(len(m), node_w, node_h)[0] * (node_w + gap_x) for m in found)
    return found if side_by_side <= BLOCKS_WIDTH else []


def block_shape(count, node_w, node_h):
    """(columns, rows) of a block of ``count`` nodes: about BLOCK_ASPECT times as wide as
    tall, no wider than TARGET_WIDTH."""
    pitch_x, pitch_y = node_w + BLOCK_GAP_X, node_h + BLOCK_GAP_Y
    cols = int(math.ceil(math.sqrt(count * BLOCK_ASPECT * pitch_y / pitch_x)))
    cols = max(2, min(count, cols, max(2, int((TARGET_WIDTH - BLOCK_GAP_X) // pitch_x))))
    return cols, -(-count // cols)


def _with_blocks(n, edges, node_w, node_h, budget, engine, blocks):
    """Lays out the graph with each bundle as one block node, then the members in their
    block's grid, their edges routed as combs (see the module's docstring)."""
    block_of = {}                       # member -> block index
    for k, members in enumerate(blocks):
        for m in members:
            block_of[m] = k
    index = {}                          # node -> compound node (a block's index for its members)
    sizes = []
    for i in range(n):
        if i not in block_of:
            index[i] = len(sizes)
            sizes.append((node_w, node_h))
    block_node, shapes = [], []
    for members in blocks:
        cols, rows = block_shape(len(members), node_w, node_h)
        shapes.append([cols, rows, False, False])     # and whether a bus goes above, below
        block_node.append(len(sizes))
        sizes.append(None)
    for a, b in edges:
        if a in block_of:
            shapes[block_of[a]][3] = True     # an edge leaves the block: a bus below
        if b in block_of:
            shapes[block_of[b]][2] = True     # one comes in: a bus above
    for k, (cols, rows, bus_in, bus_out) in enumerate(shapes):
        width = BLOCK_GAP_X + cols * (node_w + BLOCK_GAP_X)
        height = rows * (node_h + BLOCK_GAP_Y) - BLOCK_GAP_Y + BLOCK_BUS * (bus_in + bus_out)
        sizes[block_node[k]] = (width, height)
    for m, k in block_of.items():
        index[m] = block_node[k]
    compound, where = [], {}
    for a, b in edges:
        pair = (index[a], index[b])
        if pair not in where:
            where[pair] = len(compound)
            compound.append(pair)
    lay = _plain(len(sizes), compound, node_w, node_h, budget, engine, sizes)
    xs, ys = [0.0] * n, [0.0] * n
    for i in range(n):
        if i not in block_of:
            xs[i], ys[i] = lay.xs[index[i]], lay.ys[index[i]]
    for k, members in enumerate(blocks):
        cols, _, bus_in, _ = shapes[k]
        c = block_node[k]
        left = lay.xs[c] - sizes[c][0] / 2.0
        top = lay.ys[c] - sizes[c][1] / 2.0 + (BLOCK_BUS if bus_in else 0)
        for j, m in enumerate(members):
            xs[m] = left + BLOCK_GAP_X + (j % cols) * (node_w + BLOCK_GAP_X) + node_w / 2.0
            ys[m] = top + (j // cols) * (node_h + BLOCK_GAP_Y) + node_h / 2.0
    lines = []
    for a, b in edges:
        drawn = _chain(lay.edges[where[(index[a], index[b])]])
        if a in block_of:       # out of a block: the member's right side, its gutter, the bus below
            c = block_node[block_of[a]]
            bus = lay.ys[c] + sizes[c][1] / 2.0 - BLOCK_BUS / 2.0
            side, gutter = xs[a] + node_w / 2.0, xs[a] + node_w / 2.0 + BLOCK_GAP_X * 0.4
            drawn = _chain([(side, ys[a]), (gutter, ys[a]), (gutter, bus), (drawn[0][0], bus), drawn[0]]) + drawn[1:]
        if b in block_of:       # into a block: the bus above, the member's gutter, its left side
            c = block_node[block_of[b]]
            bus = lay.ys[c] - sizes[c][1] / 2.0 + BLOCK_BUS / 2.0
            side, gutter = xs[b] - node_w / 2.0, xs[b] - node_w / 2.0 - BLOCK_GAP_X * 0.4
            drawn = drawn + _chain([drawn[-1], (drawn[-1][0], bus), (gutter, bus), (gutter, ys[b]), (side, ys[b])])[1:]
        lines.append(drawn)
    return Layout(xs, ys, node_w, node_h, lines, lay.width, lay.height, lay.engine, lay.stagger)


def _chain(points):
    """A line through ``points`` as a chain of cubic Bézier segments (1 + 3k points, as dot
    gives its edges): straight pieces have their ends as control points."""
    if len(points) >= 4 and (len(points) - 1) % 3 == 0:
        return list(points)
    out = [points[0]]
    for p, q in zip(points, points[1:]):
        out.extend((p, q, q))
    return out


def ranks(n, edges):
    """Longest-path ranks (sources 0), and each node's inputs and consumers; linear."""
    preds = [[] for _ in range(n)]
    succs = [[] for _ in range(n)]
    for a, b in edges:
        preds[b].append(a)
        succs[a].append(b)
    indegree = [len(p) for p in preds]
    rank = [0] * n
    queue = collections.deque(i for i in range(n) if indegree[i] == 0)
    while queue:
        i = queue.popleft()
        for j in succs[i]:
            if rank[i] + 1 > rank[j]:
                rank[j] = rank[i] + 1
            indegree[j] -= 1
            if indegree[j] == 0:
                queue.append(j)
    # (a cycle cannot come from a plan; if one did, its nodes stay in rank 0)
    return rank, preds, succs


def stagger(widest, rank_count, node_w, node_h, gap_x, gap_y, limit, width=None, height=None):
    """Over how many rows to spread the widest rank (``widest`` nodes): the fewest that make
    the graph no wider than ASPECT times its height (or than TARGET_WIDTH); 1 when it is not
    too wide. ``width``, ``height``: px of that rank and of the graph, when nodes differ in size."""
    pitch_x, pitch_y = node_w + gap_x, node_h + gap_y
    width = widest * pitch_x if width is None else width
    base = rank_count * pitch_y if height is None else height
    for rows in range(1, max(1, limit) + 1):
        tall = base + (rows - 1) * pitch_y
        if width / rows <= max(TARGET_WIDTH, ASPECT * tall) or rows >= widest:
            return rows
    return max(1, limit)


def _rank_extent(n, rank, sizes, node_w, node_h, gap_x, gap_y):
    """(nodes in the widest rank, its px width, the graph's px height) of ranked nodes."""
    count, width, height = collections.Counter(), collections.Counter(), collections.Counter()
    for i in range(n):
        w, h = sizes[i] if sizes else (node_w, node_h)
        count[rank[i]] += 1
        width[rank[i]] += w + gap_x
        height[rank[i]] = max(height[rank[i]], h)
    if not n:
        return 0, 0.0, 0.0
    widest = max(width, key=width.get)
    return count[widest], width[widest], sum(h + gap_y for h in height.values())


def _dot(n, edges, node_w, node_h, budget, sizes=None):
    big = n > SPLINES_LIMIT
    deadline = time.monotonic() + budget
    rank, _, _ = ranks(n, edges)
    gap_y = 0.3 * 72 if big else RANKSEP
    widest, width, height = _rank_extent(n, rank, sizes, node_w, node_h, NODESEP, gap_y)
    rows = stagger(widest, max(rank) + 1 if n else 1, node_w, node_h, NODESEP, gap_y, MAX_STAGGER, width, height)
    out = None
    for concentrate in ((True, False) if rows > 1 else (False,)):
        text = _dot_text(n, edges, node_w, node_h, big, concentrate, sizes)
        if rows > 1:
            unflatten = unflatten_program()
            if unflatten is None:
                rows = 1
            else:
                try:
                    text = subprocess.run([unflatten, "-l", str(rows), "-f", "-c", str(rows)], input=text,
                                          capture_output=True, timeout=max(0.05, deadline - time.monotonic()),
                                          check=True).stdout
                except (subprocess.CalledProcessError, OSError):
                    rows = 1    # dot on the graph as it is
                    text = _dot_text(n, edges, node_w, node_h, big, False, sizes)
        try:
            out = subprocess.run([dot_program(), "-Tplain"], input=text, capture_output=True,
                                 timeout=max(0.05, deadline - time.monotonic()), check=True).stdout.decode()
            break
        except subprocess.CalledProcessError:
            if not concentrate:     # (edge concentrators have crashed dot on some graphs)
                raise
    xs, ys = [0.0] * n, [0.0] * n
    drawn = collections.defaultdict(collections.deque)    # (tail, head) -> point lists
    height = width = 0.0
    for line in out.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "graph":
            width, height = float(parts[2]) * 72, float(parts[3]) * 72
        elif parts[0] == "node":
            i = int(parts[1])
            xs[i] = float(parts[2]) * 72
            ys[i] = height - float(parts[3]) * 72
        elif parts[0] == "edge":
            count = int(parts[3])
            if parts[-2] == "invis":     # unflatten's chains of unconnected nodes
                continue
            points = [(float(parts[4 + 2 * k]) * 72, height - float(parts[5 + 2 * k]) * 72) for k in range(count)]
            drawn[(int(parts[1]), int(parts[2]))].append(points)
    # unflatten writes the edges node by node: back to the order asked (KeyError/IndexError: dropped)
    lines = [drawn[edge].popleft() for edge in edges]
    return Layout(xs, ys, node_w, node_h, lines, width, height, "dot", rows)


def _dot_text(n, edges, node_w, node_h, big, concentrate, sizes=None):
    # concentrate: the staggered edges into one node share their way down (else each takes
    # its own column through every rank it crosses, and the width comes back)
    head = ["digraph G {",
            'graph [rankdir=TB, nodesep=0.12, ranksep={}, splines={}{}{}];'.format(
                "0.3" if big else "0.4", "line" if big else "true",
                ", nslimit=2, nslimit1=2, mclimit=0.2, searchsize=10" if big else "",
                ", concentrate=true" if concentrate else ""),
            'node [shape=box, fixedsize=true, width={:.3f}, height={:.3f}, label=""];'.format(
                node_w / 72.0, node_h / 72.0),
            "edge [arrowhead=none];"]
    body = [";".join(str(i) for i in range(n)) + ";"]
    for i, size in enumerate(sizes or ()):
        if size != (node_w, node_h):
            body.append('{} [width={:.3f}, height={:.3f}];'.format(i, size[0] / 72.0, size[1] / 72.0))
    body.extend("{}->{};".format(a, b) for a, b in edges)
    return "\n".join(head + body + ["}"]).encode()


def layered(n, edges, node_w=64, node_h=24, sizes=None):
    """Longest-path ranks (inputs above), ordered by the mean position of their inputs;
    ranks wider than the wrap (chosen as ``stagger`` does for dot) become several rows.
    ``sizes``: (w, h) per node when they differ (blocks)."""
    rank, preds, _ = ranks(n, edges)
    by_rank = collections.defaultdict(list)
    for i in range(n):
        by_rank[rank[i]].append(i)
    size = sizes or [(node_w, node_h)] * n
    gap_x, gap_y = node_w * 0.25, node_h * 1.4
    widest, widest_px, height_px = _rank_extent(n, rank, sizes, node_w, node_h, gap_x, gap_y)
    rows_of_widest = stagger(max(widest, 1), len(by_rank) or 1, node_w, node_h, gap_x, gap_y, MAX_ROWS,
                             widest_px, height_px)
    wrap = max(4 * (node_w + gap_x), widest_px / rows_of_widest) + 0.5    # px a row may take
    position = [0.0] * n
    xs, ys = [0.0] * n, [0.0] * n
    row_of = [0] * n
    row_widths = []
    top = 0.0
    for r in sorted(by_rank):
        members = by_rank[r]
        if r > 0:
            members.sort(key=lambda i: (sum(position[p] for p in preds[i]) / len(preds[i])) if preds[i] else 0.0)
        k = 0
        while k < len(members):
            x, chunk = 0.0, []
            while k < len(members) and (not chunk or x + size[members[k]][0] <= wrap):
                i = members[k]
                position[i] = k
                xs[i] = x + size[i][0] / 2
                x += size[i][0] + gap_x
                chunk.append(i)
                k += 1
            tall = max(size[i][1] for i in chunk)
            for i in chunk:
                ys[i] = top + tall / 2
                row_of[i] = len(row_widths)
            row_widths.append(x - gap_x)
            top += tall + gap_y
    width = max(row_widths) if row_widths else 0.0
    for i in range(n):      # centre each row
        xs[i] += (width - row_widths[row_of[i]]) / 2
    lines = [[(xs[a], ys[a] + size[a][1] / 2), (xs[b], ys[b] - size[b][1] / 2)] for a, b in edges]
    height = top - gap_y if row_widths else 0.0
    return Layout(xs, ys, node_w, node_h, lines, max(width, node_w), max(height, node_h), "python",
                  rows_of_widest)
