"""The task graph widget: ``treadle.show(futures_or_tasks)`` and ``%treadle graph``.

The graph (a :class:`TaskGraph`: nodes with label, type, server id and inputs) comes from native
futures, HyperLoom futures or Task objects, walking inputs (submitted plans are remembered by
:mod:`lineage`). It is laid out once (:mod:`layout`) and drawn as an SVG made here, nodes filled
with their label group's colour and styled by their state, so recolouring as tasks run is only
string formatting: :class:`LiveGraph` re-renders the same display from the progress monitor's
thread at a bounded rate.

Above ``AGGREGATE_ABOVE`` tasks the graph is drawn by label group: one node per group (count and
a bar of finished / failed), one edge per pair of groups (with the count); the layout of each
group on its own (a sample of big ones) is embedded, and clicking a group shows it.
"""

import collections
import html
import math
import threading
import time

from ..core import story as core_story
from ..trace import lane_name, type_name
from . import layout as _layout
from . import states as _states
from .bundle import Widget, attrs, enhance, json_script, live_part, mime_bundle, new_id, static_img, style
from .colors import group_color
from .task_graph import TaskGraph, collect

AGGREGATE_ABOVE = 2000      # tasks drawn one by one at most; above, one node per label group
TEXT_NODES = 300            # up to this many nodes, labels are written inside them
LABEL_MIN_PX = 12           # labels are never drawn smaller on screen (the back of a room): wider graphs scroll
TASK_FONT = 13              # px of a task's label at scale 1
GROUP_FONT = 14             # px of a group's label at scale 1
LABEL_CHARS = 24            # a label is shown whole up to this many characters (then cut with "…")
CHAR_EM = 0.64              # a character's width in em, at most (digits in DejaVu Sans: 0.636)
TASK_NODE = (72, 28)        # px of a labelled node at least; wider for longer labels
GROUP_NODE = (150, 44)      # px of a group's node at least
SMALL_NODE_SCALE = 0.5      # graphs without labels (nodes 36 x 16) shrink to half at most
EXPAND_LIMIT = 150          # tasks of a group laid out for its expansion (a sample above)
EXPAND_BUDGET = 3000        # expansion nodes embedded in all
MAX_GROUPS = 60             # groups drawn; the smallest beyond become "other"
LIVE_INTERVAL = 0.5         # seconds between two live recolourings (more for big payloads)
STORY_LIMIT = 2000          # tasks whose story the hover shows (a request per thousand)


# -- states and details --------------------------------------------------------------------------

def current_states(g, conn=None):
    """The state of every node: the server's word where it can say, else what is known."""
    conn = conn if conn is not None else g.conn
    ids = [i for i in g.ids if i is not None]
    asked = _states.ask(conn, ids) if ids else None
    by_id = dict(zip(ids, asked)) if asked is not None else {}
    out = []
    for task_id, known in zip(g.ids, g.known):
        s = by_id.get(task_id) if task_id is not None else None
        if s is None or s == "unknown":
            s = known or ("pending" if task_id is None else s or "pending")
        out.append(s)
    return out


def task_details(g, conn=None, limit=200_000):
    """{task id: (worker name, lane, start µs, end µs, size)} from the server's recent trace."""
    conn = conn if conn is not None else g.conn
    if conn is None or not hasattr(conn, "trace"):
        return {}
    wanted = set(i for i in g.ids if i is not None)
    if not wanted:
        return {}
    try:
        trace = conn.trace(limit)
    except Exception:
        return {}
    names = {w["id"]: w.get("name", str(w["id"])) for w in trace.get("workers", [])}
    out = {}
    for e in trace.get("events", []):
        if e.get("kind") == "task" and e.get("task") in wanted:
            out[e["task"]] = (names.get(e["worker"], e["worker"]), e.get("lane", 0), e["start_us"], e["end_us"],
                              e.get("size", 0))
    return out


def story_lines(g, conn=None, limit=STORY_LIMIT):
    """{task id: hover lines telling why it is here (its last steps)}, for graphs of at most
    ``limit`` tasks: one request per thousand tasks, workers named as in the rest of the hover."""
    conn = conn if conn is not None else g.conn
    ids = [i for i in g.ids if i is not None]
    if conn is None or not ids or len(ids) > limit or not hasattr(conn, "story"):
        return {}
    try:
        records = core_story.story(conn, ids)
    except Exception:   # a server without the story request: the hover has no story
        return {}
    names = core_story.worker_names(conn)
    return {r.id: core_story.last_steps(r, worker_names=names) for r in records}


# -- drawing -------------------------------------------------------------------------------------

def _num(x):
    return ("%.1f" % x).rstrip("0").rstrip(".")


def _size(n):
    n = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return "{:.0f} {}".format(n, unit) if unit == "B" else "{:.1f} {}".format(n, unit)
        n /= 1024


def _ms(us):
    return "{:.3f} ms".format(us / 1000.0) if us < 10_000 else "{:.1f} ms".format(us / 1000.0) \
        if us < 10_000_000 else "{:.1f} s".format(us / 1e6)


def _node_title(label, task_type, key, state, detail, story=None):
    # story: the lines of story_lines for this task
    lines = ["{} ({})".format(label or "(no label)", state), "type: {}".format(type_name(task_type) or "?"),
             "task: {}".format(key)]
    if detail is not None:
        worker, lane, start, end, size = detail
        lines.append("worker: {} · {}".format(worker, _lane(lane)))
        lines.append("duration: {} · result {}".format(_ms(max(0, end - start)), _size(size)))
    if story:   # why it is here (%treadle why tells the whole story)
        lines.extend(story)
    return "\n".join(lines)


def _lane(lane):
    return lane_name(lane)


def _edge_path(points):
    if len(points) >= 4 and (len(points) - 1) % 3 == 0:
        d = ["M{},{}".format(_num(points[0][0]), _num(points[0][1]))]
        for k in range(1, len(points), 3):
            c1, c2, end = points[k:k + 3]
            if c1 == points[k - 1] and c2 == end:     # a straight piece (a block's comb): a line
                d.append("L{},{}".format(_num(end[0]), _num(end[1])))
            else:
                d.append("C" + " ".join("{},{}".format(_num(x), _num(y)) for x, y in (c1, c2, end)))
        return "".join(d)
    return "M" + "L".join("{},{}".format(_num(x), _num(y)) for x, y in points)


def shown_label(text):
    """A label as drawn: whole up to LABEL_CHARS characters."""
    return text if len(text) <= LABEL_CHARS else text[:LABEL_CHARS - 1] + "…"


def text_width(chars, font):
    """px a label of ``chars`` characters takes at ``font`` px, at most."""
    return int(math.ceil(chars * CHAR_EM * font))


def _svg_open(dom_id, width, height, min_scale, pad=8):
    """The <svg> at its natural size (1 px per unit), shrunk to the output's width (max-width)
    but never below ``min_scale`` (min-width wins over max-width): wider graphs scroll in
    their .treadle-graph-view instead of shrinking their labels below LABEL_MIN_PX."""
    natural = width + 2 * pad
    return ('<svg class="treadle-graph-svg" xmlns="http://www.w3.org/2000/svg" viewBox="{} {} {} {}" '
            'width="{}" preserveAspectRatio="xMidYMin meet" style="max-width:100%;min-width:{}px;height:auto" '
            'data-min-scale="{}" font-family="sans-serif"><defs><marker id="{}-arrow" viewBox="0 0 6 6" refX="6" '
            'refY="3" markerWidth="7" markerHeight="7" markerUnits="userSpaceOnUse" orient="auto">'
            '<path d="M0,0L6,3L0,6z" fill="#999"/></marker></defs>'
            ).format(-pad, -pad, _num(natural), _num(height + 2 * pad), int(round(natural)),
                     int(math.ceil(natural * min_scale)), _num(min_scale), dom_id)


def _task_nodes_svg(dom_id, lay, keys, labels, types, groups, states, details, ids, with_text, tips, stories=None):
    # Shared looks go on parent groups (stroke, opacity and markers are inherited), one per
    # state: a node is then little more than its rectangle (~100 bytes).
    out = ['<g class="treadle-edges" fill="none" stroke="#999" stroke-width="1" marker-end="url(#{}-arrow)">'.format(
        dom_id)]
    for points in lay.edges:
        out.append('<g class="treadle-edge"><path d="{}"/></g>'.format(_edge_path(points)))
    out.append("</g>")
    w, h = lay.node_w, lay.node_h
    by_state = collections.defaultdict(list)
    for i, state in enumerate(states):
        by_state[state].append(i)
    corner = ' rx="3"' if with_text else ""
    for state, members in by_state.items():
        opacity, stroke, stroke_w, dash = _states.STYLE.get(state, _states.STYLE["unknown"])
        out.append('<g class="treadle-nodes" fill-opacity="{}" stroke="{}" stroke-width="{}"{}>'.format(
            opacity, stroke, stroke_w, ' stroke-dasharray="{}"'.format(dash) if dash else ""))
        for i in members:
            key = keys[i]
            tip = ""
            if tips:   # an attribute, not a <title>: sanitizers that drop the SVG would show its text
                detail = details.get(ids[i]) if ids[i] is not None else None
                story = (stories or {}).get(ids[i]) if ids[i] is not None else None
                tip = ' data-tip="{}"'.format(html.escape(_node_title(labels[i], types[i], key, state, detail, story)))
            out.append('<g class="treadle-node" data-key="{}" data-state="{}"{}><rect x="{}" y="{}" width="{}" '
                       'height="{}"{} fill="{}"/>'.format(html.escape(key), state, tip, _num(lay.xs[i] - w / 2),
                                                         _num(lay.ys[i] - h / 2), _num(w), _num(h), corner,
                                                         group_color(groups[i])))
            if with_text:
                out.append('<text x="{}" y="{}" font-size="{}" text-anchor="middle" fill="#111" fill-opacity="1" '
                           'stroke="none">{}</text>'.format(_num(lay.xs[i]), _num(lay.ys[i] + TASK_FONT * 0.36),
                                                            TASK_FONT, html.escape(node_text(labels[i], types[i]))))
            out.append("</g>")
        out.append("</g>")
    return "".join(out)


def node_text(label, task_type):
    """What a task's node says: its label (whole up to LABEL_CHARS), else its type."""
    return shown_label(label or type_name(task_type))


class GraphView(Widget):
    """A drawn task graph (see the module's docstring). ``expand``: draw only that label group,
    task by task (a sample of its first AGGREGATE_ABOVE tasks when bigger)."""

    def __init__(self, graph, expand=None, aggregate=None, layout_budget=2.0, details=True):
        self.graph = graph
        self.dom_id = new_id("graph")
        self.expand = expand
        self.layout_budget = layout_budget
        g = graph
        groups = g.groups()
        self._groups = groups
        self._members = list(range(len(g)))
        self.group_size = None   # with expand: how many tasks the group has (its first AGGREGATE_ABOVE are drawn)
        if expand is not None:
            self._members = [i for i in range(len(g)) if groups[i] == expand]
            self.group_size = len(self._members)
            self._members = self._members[:AGGREGATE_ABOVE]
            if not self._members and len(g):
                raise ValueError("no label group {!r} in this graph; its groups: {}".format(
                    expand, ", ".join(sorted(set(groups)))))
        self.aggregated = (len(self._members) > AGGREGATE_ABOVE) if aggregate is None else bool(aggregate)
        self._lay = None
        self._group_model = None
        self._expansions = None
        self.details = {}
        self.stories = {}
        self._want_details = details
        self.states = ["pending"] * len(g)

    # -- data

    def refresh(self, conn=None, details=False):
        """Asks the server for the states (and with ``details``, the trace: durations, workers)."""
        self.states = _states.advance(self.states, current_states(self.graph, conn))
        if details and self._want_details and not self.aggregated:
            self.details = task_details(self.graph, conn)
            self.stories = story_lines(self.graph, conn)
        return self

    def finished(self):
        return all(s in _states.TERMINAL for s in self.states)

    # -- layout (once)

    def _task_layout(self):
        if self._lay is None:
            members = self._members
            where = {m: k for k, m in enumerate(members)}
            edges = [(where[a], where[b]) for b in members for a in self.graph.inputs[b] if a in where]
            if len(members) <= TEXT_NODES:   # as wide as the longest label needs
                longest = max((len(node_text(self.graph.labels[i], self.graph.types[i])) for i in members), default=0)
                size = (max(TASK_NODE[0], text_width(longest, TASK_FONT) + 14), TASK_NODE[1])
            else:
                size = (36, 16)
            # big graphs get less of dot's time: the Python layout is the fallback
            budget = self.layout_budget if len(members) <= 500 else min(self.layout_budget, 1.0)
            self._lay = (_layout.layout(len(members), edges, size[0], size[1], budget=budget), edges)
        return self._lay

    def _groups_model(self):
        """Groups (largest first, at most MAX_GROUPS), each task's group index, group edges."""
        if self._group_model is None:
            counts = collections.Counter(self._groups)
            ranked = [name for name, _ in counts.most_common()]
            if len(ranked) > MAX_GROUPS:
                kept = set(ranked[:MAX_GROUPS - 1])
                names = ranked[:MAX_GROUPS - 1] + ["other"]
            else:
                kept = set(ranked)
                names = ranked
            index = {n: k for k, n in enumerate(names)}
            other = index.get("other", 0)
            of_task = [index[gname] if gname in kept else other for gname in self._groups]
            edges = collections.Counter()
            inputs = self.graph.inputs
            for b, ins in enumerate(inputs):
                gb = of_task[b]
                for a in ins:
                    ga = of_task[a]
                    if ga != gb:
                        edges[(ga, gb)] += 1
            self._group_model = (names, of_task, edges)
        return self._group_model

    # -- drawing

    def svg(self, tips=True):
        """The picture; ``tips``: with the hover texts the script shows (the interactive one)."""
        return self._aggregated_svg(tips) if self.aggregated else self._tasks_svg(tips)

    def _tasks_svg(self, tips):
        g = self.graph
        lay, _ = self._task_layout()
        m = self._members
        with_text = len(m) <= TEXT_NODES
        out = [_svg_open(self.dom_id, lay.width, lay.height,
                         LABEL_MIN_PX / float(TASK_FONT) if with_text else SMALL_NODE_SCALE)]
        out.append(_task_nodes_svg(self.dom_id, lay, [g.keys[i] for i in m], [g.labels[i] for i in m],
                                   [g.types[i] for i in m], [self._groups[i] for i in m],
                                   [self.states[i] for i in m], self.details, [g.ids[i] for i in m],
                                   with_text, tips, self.stories))
        out.append("</svg>")
        return "".join(out)

    def _aggregated_svg(self, tips):
        names, of_task, edges = self._groups_model()
        per_group = [collections.Counter() for _ in names]
        for k, s in zip(of_task, self.states):
            per_group[k][s] += 1
        if self._lay is None:
            group_edges = sorted(edges)
            longest = max((len(self._group_text(k, names)) for k in range(len(names))), default=0)
            width = max(GROUP_NODE[0], text_width(longest, GROUP_FONT) + 16)
            self._lay = (_layout.layout(len(names), group_edges, width, GROUP_NODE[1], budget=self.layout_budget),
                         group_edges)
        lay, group_edges = self._lay
        out = [_svg_open(self.dom_id, lay.width, lay.height, LABEL_MIN_PX / float(GROUP_FONT)),
               '<g class="treadle-edges">']
        for (a, b), points in zip(group_edges, lay.edges):
            count = edges[(a, b)]
            mid = points[len(points) // 2]
            out.append('<g class="treadle-edge" data-count="{}"><path d="{}" fill="none" stroke="#999" '
                       'stroke-width="{}" marker-end="url(#{}-arrow)"/><text x="{}" y="{}" font-size="12" '
                       'fill="#666">{}</text></g>'.format(
                           count, _edge_path(points), _num(min(6, 1 + count ** 0.25)), self.dom_id,
                           _num(mid[0] + 4), _num(mid[1]), count))
        out.append('</g><g class="treadle-nodes">')
        w, h = lay.node_w, lay.node_h
        for k, name in enumerate(names):
            counts = per_group[k]
            total = sum(counts.values())
            state = _group_state(counts)
            opacity, stroke, stroke_w, dash = _states.STYLE.get(state, _states.STYLE["unknown"])
            x, y = lay.xs[k] - w / 2, lay.ys[k] - h / 2
            done = counts.get("finished", 0) + counts.get("released", 0)
            failed = counts.get("failed", 0)
            title = "{}: {} tasks\n{}\n(click to expand)".format(
                name or "(no label)", total,
                ", ".join("{} {}".format(v, _states.word(s)) for s, v in _ordered(counts).items()))
            color = group_color(name if name != "other" or "other" in set(self._groups) else "")
            tip = ' data-tip="{}"'.format(html.escape(title)) if tips else ""
            out.append('<g class="treadle-node treadle-group" data-key="g:{}" data-state="{}" data-count="{}"{}>'
                       '<rect x="{}" y="{}" width="{}" height="{}" rx="6" fill="{}" '
                       'fill-opacity="{}" stroke="{}" stroke-width="{}"{}/>'.format(
                           html.escape(name), state, total, tip, _num(x), _num(y), _num(w), _num(h),
                           color, max(opacity, 0.35), stroke, stroke_w,
                           ' stroke-dasharray="{}"'.format(dash) if dash else ""))
            bar_w = w - 16
            out.append('<rect x="{}" y="{}" width="{}" height="5" fill="#fff" fill-opacity="0.7"/>'
                       '<rect x="{}" y="{}" width="{}" height="5" fill="#2d7d32"/>'
                       '<rect x="{}" y="{}" width="{}" height="5" fill="#d62728"/>'.format(
                           _num(x + 8), _num(y + h - 11), _num(bar_w),
                           _num(x + 8), _num(y + h - 11), _num(bar_w * done / max(total, 1)),
                           _num(x + 8 + bar_w * done / max(total, 1)), _num(y + h - 11),
                           _num(bar_w * failed / max(total, 1))))
            out.append('<text x="{}" y="{}" font-size="{}" text-anchor="middle" fill="#111">{}</text></g>'
                       .format(_num(lay.xs[k]), _num(y + 19), GROUP_FONT,
                               html.escape(self._group_text(k, names, total))))
        out.append("</g></svg>")
        return "".join(out)

    def _group_text(self, k, names, total=None):
        """What group ``k``'s node says: its name and count (the largest count when not given)."""
        if total is None:
            total = len(self.graph)
        return "{} ×{}".format(shown_label(names[k] or "(no label)"), total)

    def expansions(self):
        """For each group: its tasks laid out on their own (a sample of the first EXPAND_LIMIT
        when bigger), as compact data the script draws on a click; within EXPAND_BUDGET nodes."""
        if self._expansions is None:
            names, of_task, _ = self._groups_model()
            members = collections.defaultdict(list)
            for i, k in enumerate(of_task):
                if len(members[k]) < EXPAND_LIMIT:
                    members[k].append(i)
            counts = collections.Counter(of_task)
            out, budget = {}, EXPAND_BUDGET
            deadline = time.monotonic() + 3.0
            for k in sorted(members, key=lambda k: len(members[k])):
                m = members[k]
                if len(m) > budget or time.monotonic() > deadline:
                    continue
                budget -= len(m)
                where = {t: j for j, t in enumerate(m)}
                edges = [(where[a], where[b]) for b in m for a in self.graph.inputs[b] if a in where]
                lay = _layout.layout(len(m), edges, 36, 16, budget=0.5, engine="python")
                out[names[k]] = {"count": counts[k], "sampled": counts[k] > len(m),
                                 "w": round(lay.width), "h": round(lay.height), "nw": 36, "nh": 16,
                                 "color": group_color(names[k]),
                                 "nodes": [[round(lay.xs[j]), round(lay.ys[j]), self.graph.keys[t], self.states[t],
                                            self.graph.labels[t]] for j, t in enumerate(m)],
                                 "edges": [[round(p[0][0]), round(p[0][1]), round(p[-1][0]), round(p[-1][1])]
                                           for p in lay.edges]}
            self._expansions = out
        # the states change while a run goes on
        for e in self._expansions.values():
            for node in e["nodes"]:
                i = self.graph.index(node[2])
                if i is not None:
                    node[3] = self.states[i]
        return self._expansions

    # -- the bundle

    def summary(self):
        n = len(self._members)
        counts = _states.summary(self.states[i] for i in self._members)
        groups = collections.Counter(self._groups[i] for i in self._members)
        top = ", ".join("{} {}".format(name or "(no label)", c) for name, c in groups.most_common(6))
        more = len(groups) - 6
        group = ""
        if self.expand is not None:
            group = " (group {}{})".format(self.expand, "" if self.group_size == n else
                                           ": its first {} of {:,} tasks".format(n, self.group_size))
        return "task graph: {} task{}{}, {} label group{} ({}{}); {}".format(
            n, "" if n == 1 else "s", group,
            len(groups), "" if len(groups) == 1 else "s", top, ", …" if more > 0 else "",
            ", ".join("{} {}".format(v, _states.word(s)) for s, v in counts.items()) or "empty")

    def bundle(self):
        svg = self.svg(tips=True)
        picture = self.svg(tips=False)
        n = len(self._members)
        drawn = len(self._groups_model()[0]) if self.aggregated else n
        legend = _legend(collections.Counter(self._groups[i] for i in self._members))
        # Every state that can be drawn, explained (the drawn ones and those a run goes through).
        legend += _states.legend(set(self.states[i] for i in self._members) | _RUN_STATES)
        head = '<div class="treadle-graph-head">{}{}</div>'.format(html.escape(self.summary()), legend)
        live = '<div class="treadle-graph-view">' + svg + "</div>"
        if self.aggregated:
            live += '<div class="treadle-graph-expanded"></div>'
        parts = ['<div{}>'.format(attrs(class_="treadle-graph", id=self.dom_id, data_tasks=n, data_nodes=drawn,
                                        data_aggregated=int(self.aggregated))),
                 head, static_img(picture, self.summary()), live_part(live)]
        if self.aggregated:
            parts.append(json_script({"expansions": self.expansions()}))
        parts.append(enhance("graph", self.dom_id))
        parts.append("</div>")
        parts.append(style())
        return mime_bundle(self.summary(), "".join(parts), picture)


# The states a run goes through, explained in every graph's legend before they are drawn.
_RUN_STATES = frozenset(("waiting", "assigned", "running", "finished", "failed"))


def _ordered(counts):
    """{state: count} of a Counter, in display order."""
    return {st: counts[st] for st in _states.ORDER + sorted(set(counts) - set(_states.ORDER)) if counts.get(st)}


def _group_state(counts):
    """One state for a group: failed if any failed, running if any runs, queued if any waits on
    a worker, when all ended cancelled if any was cancelled, else finished; else pending."""
    total = sum(counts.values())
    if counts.get("failed"):
        return "failed"
    if counts.get("running"):
        return "running"
    if counts.get("assigned"):
        return "assigned"
    ended = sum(v for s, v in counts.items() if s in _states.TERMINAL)
    if total and ended == total:
        return "cancelled" if counts.get("cancelled") else "finished"
    return "waiting" if any(counts.get(s) for s in ("waiting", "ready")) else "pending"


def _legend(groups):
    items = []
    for name, count in groups.most_common(12):
        items.append('<span class="treadle-legend-item"><span class="treadle-swatch" style="display:inline-block;'
                     'width:10px;height:10px;border-radius:2px;background:{}"></span> {} ({})</span>'.format(
                         group_color(name), html.escape(name or "(no label)"), count))
    return '<div class="treadle-legend">{}</div>'.format(" ".join(items)) if items else ""


# -- live colours ----------------------------------------------------------------------------------

class LiveGraph:
    """Recolours a displayed GraphView while its tasks run: from the progress monitor's thread
    (tick), at most every LIVE_INTERVAL seconds (longer for big payloads), through the cell's
    publisher; a last update with durations once every task ended."""

    def __init__(self, view, publisher, display_id, interval=LIVE_INTERVAL, timeout=24 * 3600):
        self.view = view
        self.publisher = publisher
        self.display_id = display_id
        self.finished = False
        self._last = time.monotonic()
        self._interval = interval
        self._deadline = time.monotonic() + timeout
        self._settled = {}        # for servers without the states request
        self._lock = threading.Lock()
        self._size = 0
        self._shown = list(view.states)   # what the display shows

    def settled(self, finished, failed):
        with self._lock:
            for t in finished:
                self._settled[t] = "finished"
            for t in failed:
                self._settled[t] = "failed"

    def flush(self, conn):
        """Publishes the states now, whatever the interval (the end of a cell)."""
        self.tick(conn, force=True)

    def tick(self, conn, force=False):
        now = time.monotonic()
        # ~1 s per MB re-sent, and per 100,000 states asked
        interval = max(self._interval, self._size / 1_000_000.0, len(self.view.graph) / 100_000.0)
        if self.finished or (not force and now - self._last < interval):
            return
        self._last = now
        view = self.view
        if _states.can_ask(conn):
            view.refresh(conn)
        else:
            with self._lock:
                settled = dict(self._settled)
            g = view.graph
            view.states = _states.advance(view.states, [
                settled.get(t, k or "pending") if t is not None else (k or "pending") for t, k in zip(g.ids, g.known)])
        done = view.finished() or now > self._deadline
        if done:
            if _states.can_ask(conn):
                view.refresh(conn, details=True)
            self.finished = True
        elif view.states == self._shown:
            return   # nothing new to draw
        self._shown = list(view.states)
        bundle = view.bundle()
        self._size = sum(len(v) for v in bundle.values())
        self.publisher.display(bundle, display_id=self.display_id, update=True)


# -- front doors -----------------------------------------------------------------------------------

_CONTAINERS = (list, tuple, set, frozenset, dict)


def graph_view(obj, expand=None, aggregate=None, connection_for=None):
    """The GraphView of ``obj`` with the states the server knows now (``connection_for``: see
    task_graph.collect)."""
    graph = collect(obj, connection_for=connection_for)
    if not len(graph) and not isinstance(obj, _CONTAINERS + (TaskGraph,)) and not hasattr(obj, "futures"):
        raise TypeError("treadle.show draws futures and tasks (or lists and dicts of them), not {}".format(
            type(obj).__name__))
    view = GraphView(graph, expand=expand, aggregate=aggregate)
    return view.refresh(details=True)
