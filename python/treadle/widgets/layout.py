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
"""

import collections
import hashlib
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
    result = None
    if engine in ("auto", "dot") and 0 < n <= DOT_LIMIT and dot_program():
        try:
            result = _dot(n, edges, node_w, node_h, budget)
        except (subprocess.TimeoutExpired, subprocess.CalledProcessError, OSError, ValueError, IndexError,
                KeyError):
            result = None
    if result is None:
        result = layered(n, edges, node_w, node_h)
    with _lock:
        _cache[key] = result
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return result


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


def stagger(widest, rank_count, node_w, node_h, gap_x, gap_y, limit):
    """Over how many rows to spread the widest rank: the fewest that make the graph no wider
    than ASPECT times its height (or than TARGET_WIDTH); 1 when it is not too wide."""
    pitch_x, pitch_y = node_w + gap_x, node_h + gap_y
    width = widest * pitch_x
    for rows in range(1, max(1, limit) + 1):
        height = (rank_count + rows - 1) * pitch_y
        if width / rows <= max(TARGET_WIDTH, ASPECT * height) or rows >= widest:
            return rows
    return max(1, limit)


def _dot(n, edges, node_w, node_h, budget):
    big = n > SPLINES_LIMIT
    deadline = time.monotonic() + budget
    rank, _, _ = ranks(n, edges)
    widest = max(collections.Counter(rank).values()) if n else 0
    rows = stagger(widest, max(rank) + 1 if n else 1, node_w, node_h, NODESEP, 0.3 * 72 if big else RANKSEP,
                   MAX_STAGGER)
    out = None
    for concentrate in ((True, False) if rows > 1 else (False,)):
        text = _dot_text(n, edges, node_w, node_h, big, concentrate)
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
                    text = _dot_text(n, edges, node_w, node_h, big, False)
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


def _dot_text(n, edges, node_w, node_h, big, concentrate):
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
    body.extend("{}->{};".format(a, b) for a, b in edges)
    return "\n".join(head + body + ["}"]).encode()


def layered(n, edges, node_w=64, node_h=24):
    """Longest-path ranks (inputs above), ordered by the mean position of their inputs;
    ranks wider than the wrap (chosen as ``stagger`` does for dot) become several rows."""
    rank, preds, _ = ranks(n, edges)
    by_rank = collections.defaultdict(list)
    for i in range(n):
        by_rank[rank[i]].append(i)
    gap_x, gap_y = node_w * 0.25, node_h * 1.4
    widest = max(len(m) for m in by_rank.values()) if by_rank else 1
    rows_of_widest = stagger(widest, len(by_rank) or 1, node_w, node_h, gap_x, gap_y, MAX_ROWS)
    wrap = max(4, -(-widest // rows_of_widest))
    position = [0.0] * n
    xs, ys = [0.0] * n, [0.0] * n
    row = 0
    width = 0.0
    for r in sorted(by_rank):
        members = by_rank[r]
        if r > 0:
            members.sort(key=lambda i: (sum(position[p] for p in preds[i]) / len(preds[i])) if preds[i] else 0.0)
        for chunk_start in range(0, len(members), wrap):
            chunk = members[chunk_start:chunk_start + wrap]
            for k, i in enumerate(chunk):
                position[i] = chunk_start + k
                xs[i] = k * (node_w + gap_x) + node_w / 2
                ys[i] = row * (node_h + gap_y) + node_h / 2
            width = max(width, len(chunk) * (node_w + gap_x) - gap_x)
            row += 1
    # centre each row
    rows = collections.defaultdict(list)
    for i in range(n):
        rows[ys[i]].append(i)
    for members in rows.values():
        span = max(xs[i] for i in members) + node_w / 2
        shift = (width - span) / 2
        for i in members:
            xs[i] += shift
    lines = [[(xs[a], ys[a] + node_h / 2), (xs[b], ys[b] - node_h / 2)] for a, b in edges]
    height = row * (node_h + gap_y) - gap_y if row else 0.0
    return Layout(xs, ys, node_w, node_h, lines, max(width, node_w), max(height, node_h), "python",
                  rows_of_widest)
