"""Where the nodes of a graph go: graphviz's ``dot`` (inputs above, consumers below), within a
time budget, else a fast layered layout in Python.

``dot`` is run once per graph shape (the result is cached: recolouring a graph as its tasks run
does not lay it out again), with its cheap options for bigger graphs (straight edges, fewer
network-simplex and crossing-minimisation passes). Beyond ``DOT_LIMIT`` nodes, or when dot is
missing or slower than the budget, the Python layout takes over: longest-path ranks, one
barycentre pass, wide ranks wrapped into rows; linear in nodes and edges.
"""

import collections
import hashlib
import os
import shutil
import subprocess
import threading

DOT_LIMIT = 2500          # nodes dot is asked to lay out at most
SPLINES_LIMIT = 300       # up to this many nodes, edges are curves; above, straight lines
WRAP = 48                 # the Python layout wraps ranks wider than this into rows
_CACHE_SIZE = 32

_cache = collections.OrderedDict()
_lock = threading.Lock()


class Layout:
    """Positions in pixels: node centres ``xs``/``ys``, the node size, each edge as a list
    of points (a cubic Bézier chain from dot: 1 + 3k points; else 2 points), the size."""

    __slots__ = ("xs", "ys", "node_w", "node_h", "edges", "width", "height", "engine")

    def __init__(self, xs, ys, node_w, node_h, edges, width, height, engine):
        self.xs, self.ys, self.node_w, self.node_h = xs, ys, node_w, node_h
        self.edges, self.width, self.height, self.engine = edges, width, height, engine


def dot_program():
    return shutil.which("dot") or ("/usr/bin/dot" if os.path.exists("/usr/bin/dot") else None)


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
        except (subprocess.TimeoutExpired, OSError, ValueError, IndexError):
            result = None
    if result is None:
        result = layered(n, edges, node_w, node_h)
    with _lock:
        _cache[key] = result
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return result


def _dot(n, edges, node_w, node_h, budget):
    big = n > SPLINES_LIMIT
    head = ["digraph G {",
            'graph [rankdir=TB, nodesep=0.12, ranksep={}, splines={}{}];'.format(
                "0.3" if big else "0.4", "line" if big else "true",
                ", nslimit=2, nslimit1=2, mclimit=0.2, searchsize=10" if big else ""),
            'node [shape=box, fixedsize=true, width={:.3f}, height={:.3f}, label=""];'.format(
                node_w / 72.0, node_h / 72.0),
            "edge [arrowhead=none];"]
    body = [";".join(str(i) for i in range(n)) + ";"]
    body.extend("{}->{};".format(a, b) for a, b in edges)
    text = "\n".join(head + body + ["}"])
    out = subprocess.run([dot_program(), "-Tplain"], input=text.encode(), capture_output=True,
                         timeout=budget, check=True).stdout.decode()
    xs, ys = [0.0] * n, [0.0] * n
    lines = []
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
            points = [(float(parts[4 + 2 * k]) * 72, height - float(parts[5 + 2 * k]) * 72) for k in range(count)]
            lines.append(points)
    if len(lines) != len(edges):
        raise ValueError("dot dropped edges")
    return Layout(xs, ys, node_w, node_h, lines, width, height, "dot")


def layered(n, edges, node_w=64, node_h=24):
    """Longest-path ranks (inputs above), ordered by the mean position of their inputs;
    ranks wider than WRAP become several rows."""
    preds = [[] for _ in range(n)]
    succs = [[] for _ in range(n)]
    for a, b in edges:
        preds[b].append(a)
        succs[a].append(b)
    indegree = [len(p) for p in preds]
    rank = [0] * n
    queue = collections.deque(i for i in range(n) if indegree[i] == 0)
    seen = 0
    while queue:
        i = queue.popleft()
        seen += 1
        for j in succs[i]:
            if rank[i] + 1 > rank[j]:
                rank[j] = rank[i] + 1
            indegree[j] -= 1
            if indegree[j] == 0:
                queue.append(j)
    # (a cycle cannot come from a plan; if one did, its nodes stay in rank 0)
    by_rank = collections.defaultdict(list)
    for i in range(n):
        by_rank[rank[i]].append(i)
    gap_x, gap_y = node_w * 0.25, node_h * 1.4
    position = [0.0] * n
    xs, ys = [0.0] * n, [0.0] * n
    row = 0
    width = 0.0
    for r in sorted(by_rank):
        members = by_rank[r]
        if r > 0:
            members.sort(key=lambda i: (sum(position[p] for p in preds[i]) / len(preds[i])) if preds[i] else 0.0)
        for chunk_start in range(0, len(members), WRAP):
            chunk = members[chunk_start:chunk_start + WRAP]
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
    return Layout(xs, ys, node_w, node_h, lines, max(width, node_w), max(height, node_h), "python")
