"""Cancelled tasks in the trace widget (the trace's ``cancelled`` events, docs/tracing.md): drawn
where other task ends are, in their own colour (the grey the graph and the progress line give
"cancelled"), under their own legend entry.

A ``cancelled`` event names the task, its label and type, its worker and the moment, not the
lane: the server does not know which executor was running it. A task whose worker still reported it (a ``task`` event
of that task on that worker, e.g. a sleep that ended "cancelled") is its bar, recoloured;
any other is drawn on its worker's first lane: a bar from when it started (``started_us``: a
task cancelled while running, whose worker said it started) to its cancel, else a mark at the
moment of its cancel.
"""

from ..trace import type_name
from . import states

CANCELLED_GROUP = "⊘ cancelled"
CANCELLED_COLOR = states.STYLE["cancelled"][1]


class Cancels:
    """The ``cancelled`` events of a trace, by task."""

    def __init__(self, events):
        self.by_task = {e.get("task"): e for e in events}
        self._drawn = set()   # tasks drawn as their bar

    def __len__(self):
        return len(self.by_task)

    def ended_as_bar(self, task_event):
        """True if ``task_event`` (a task's bar) is the end of a task cancelled on its worker:
        drawn as cancelled, and no mark besides."""
        e = self.by_task.get(task_event.get("task"))
        if e is None or e.get("worker") != task_event.get("worker"):
            return False
        self._drawn.add(task_event.get("task"))
        return True

    def marks(self):
        """The cancelled events still to draw as marks (those without a bar)."""
        return [e for t, e in self.by_task.items() if t not in self._drawn]


def ran_from(event):
    """When a cancelled task began its time on the worker: when it started running, if it did
    and the server heard, else the moment of its cancel (a mark)."""
    return min(event.get("started_us", event["start_us"]), event["start_us"])


def label(event, task_label=""):
    """What the bar or mark of a cancelled task says: its label (its bar's, else the event's,
    else its type as a user names it: "sleep") and how."""
    how = "cancelled while running" if event.get("running") else "cancelled while queued"
    task_label = task_label or event.get("label") or (type_name(event["type"]) if event.get("type") else "")
    return "{} — {}".format(task_label, how) if task_label else how


def mark_lane(worker, lanes):
    """The lane a mark goes on: its worker's first lane (a lane of its own when it has none)."""
    mine = sorted(k for k in lanes if k[0] == worker)
    return mine[0] if mine else (worker, 0)
