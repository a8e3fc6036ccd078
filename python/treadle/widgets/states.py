"""The scheduler state of tasks, for colouring graphs: the server's own word when it can answer
``states`` (one request per 50,000 ids), else what the client knows (results it holds, futures
the server said settled), else "pending"."""

TERMINAL = frozenset(("finished", "failed", "released", "cancelled", "unknown"))
_CHUNK = 50_000

# How a state looks (fill opacity, stroke, stroke width, dash): inline attributes, so the
# picture is right without the stylesheet (untrusted notebooks, image/svg+xml).
STYLE = {
    "pending": (0.22, "#8a8a8a", 1.0, "3,2"),
    "waiting": (0.22, "#8a8a8a", 1.0, "3,2"),
    "ready": (0.35, "#666666", 1.0, "3,2"),
    "assigned": (0.5, "#444444", 1.5, ""),
    "running": (0.7, "#111111", 2.5, ""),
    "redirected": (0.7, "#111111", 1.5, "4,2"),
    "finished": (1.0, "#333333", 0.8, ""),
    "released": (0.9, "#666666", 0.8, ""),
    "cancelled": (0.08, "#9aa0a6", 1.5, "1,3"),   # never ran to its end: faint, dotted
    "failed": (1.0, "#d62728", 3.0, ""),
    "unknown": (0.15, "#bbbbbb", 1.0, "2,2"),
}
ORDER = ["pending", "waiting", "ready", "assigned", "running", "redirected", "finished", "released", "cancelled",
         "failed", "unknown"]


# The user's word for each state, and what it means: summaries and legends speak these.
# "assigned" is the scheduler's word for a task sent to a worker that has not started it.
WORDS = {"assigned": "queued"}
MEANING = {
    "pending": "not sent to the server yet",
    "waiting": "waiting for its inputs",
    "ready": "inputs done, waiting for a worker",
    "assigned": "on a worker, waiting for a cpu, an executor or its inputs",
    "running": "executing now",
    "redirected": "its returned plan runs in its place",
    "finished": "done, result kept",
    "released": "done, result freed",
    "cancelled": "cancelled before it finished: it will not run",
    "failed": "failed, or an input failed",
    "unknown": "not known to the server",
}


def word(state):
    """The user's word for a scheduler state ("assigned" is "queued")."""
    return WORDS.get(state, state)


def border_style(dash):
    """The CSS border style that draws like an SVG stroke-dasharray: dots for "1,...", dashes."""
    return "solid" if not dash else "dotted" if dash.startswith("1,") else "dashed"


def legend(present):
    """HTML: a swatch drawn as the graph draws each state in ``present`` (fill opacity, stroke,
    dashes), its word and meaning; inline styles, so it is right without the stylesheet."""
    items = []
    for state in ORDER:
        if state not in present:
            continue
        opacity, stroke, stroke_w, dash = STYLE[state]
        swatch = ('<span class="treadle-swatch" style="display:inline-block;width:14px;height:10px;border-radius:2px;'
                  'vertical-align:middle;background:rgba(78,121,167,{});border:{}px {} {}"></span>').format(
            opacity, max(1, round(stroke_w)), border_style(dash), stroke)
        items.append('<span class="treadle-legend-item" title="{m}">{s} {w}: {m}</span>'.format(
            s=swatch, w=word(state), m=MEANING[state]))
    return '<div class="treadle-state-legend">{}</div>'.format(" &middot; ".join(items)) if items else ""


def can_ask(conn):
    return conn is not None and hasattr(conn, "states")


def ask(conn, ids):
    """The server's state of each id (a list), or None when it cannot say."""
    if not can_ask(conn):
        return None
    ids = list(ids)
    out = []
    try:
        for start in range(0, len(ids), _CHUNK):
            out.extend(conn.states(ids[start:start + _CHUNK]))
    except Exception:
        return None
    return out


def summary(states):
    """{state: count} in display order."""
    counts = {}
    for s in states:
        counts[s] = counts.get(s, 0) + 1
    return {s: counts[s] for s in ORDER + sorted(set(counts) - set(ORDER)) if s in counts}


def advance(before, now):
    """The states to draw after ``before`` when the server says ``now`` (lists, same order): a
    picture never moves backwards. A task that ended stays ended (stopped workers make the
    server recompute or forget finished tasks: the work was done all the same; a cancelled task
    stays cancelled), and "unknown" (a task the server forgot) never hides what was known."""
    out = []
    for old, new in zip(before, now):
        if old in _ENDED or (new == "unknown" and old not in ("pending", "unknown")):
            out.append(old if not (old == "finished" and new == "released") else new)
        else:
            out.append(new)
    return out


_ENDED = frozenset(("finished", "failed", "released", "cancelled"))
