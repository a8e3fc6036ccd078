"""Why is this task here? A task's story (Dask's ``story``, HyperQueue's ``explain``).

    from treadle.core import story
    records = story.story(connection, [task_id])     # a TaskStory per id
    print(story.format_story(records))

The server keeps the last 100,000 state transitions (docs/architecture.md): each with its time,
the worker involved and the reason, and for a placement why that worker. For a task that is
not running yet it also says why, from its state at the moment of asking: the inputs it waits
for, "it needs 4 cpus; the largest worker has 1", "no workers are connected", busy workers.
``connection`` is core's Connection (its ``story(ids)`` asks the server); the clients'
``story(future)`` methods call this module and return a :class:`Story`.
"""

import collections
import re

from .source_names import sources_named

# The server answers at most this many ids per request (docs/protocol.md, `story`).
_IDS_PER_REQUEST = 1000

Step = collections.namedtuple("Step", "time_us from_state to_state reason worker placement worker_name",
                              defaults=(None,))
Step.__doc__ = """One transition: times in µs (the server's wall clock); worker: the data address
of the worker involved, or None; placement: why that worker, on a placement, else None;
worker_name: that worker's name ("vm:1234", as status names it), also once it was lost."""

TaskStory = collections.namedtuple("TaskStory", "id label state steps why failure note")
TaskStory.__doc__ = """A task's story: its steps oldest first (the first is its submission when
the record reaches back that far); why: why it is not running now (None unless it waits);
failure: a failed task's message; note: set when the record has rolled over."""

# What placement's reasons mean (server/scheduler_observer.hpp).
_PLACEMENTS = {
    # A Python call's pickled function is an input too: a call with no future arguments goes
    # where its function already is, which "no inputs" would not explain.
    "locality": "it holds most of the input bytes, a Python call's pickled function included",
    "with_consumer": "where its consumer's other inputs are",
    "least_loaded": "the least busy worker that fits",
    "only_fit": "the only worker that fits",
    "only_worker": "the only worker connected",
    "stolen": "moved from a busy worker's queue to this idle one, where it starts sooner",
}


def story(connection, task_ids):
    """A TaskStory per id of ``task_ids``, in order (raises the connection's ServerError for an
    id the server never gave out)."""
    task_ids = [int(i) for i in task_ids]
    replies = []
    for start in range(0, len(task_ids), _IDS_PER_REQUEST):
        replies.extend(connection.story(task_ids[start:start + _IDS_PER_REQUEST]))
    return [_task_story(r) for r in replies]


def worker_names(connection):
    """{data address: name} of the connected workers, to name them in a story as status and
    failures do ("vm:1234"); {} when the server cannot say."""
    try:
        return {w["address"]: w["name"] for w in connection.status().get("workers", []) if "address" in w}
    except Exception:
        return {}


def _task_story(reply):
    steps = [Step(t["time_us"], t["from"], t["to"], t["reason"], t["worker"], t["placement"], t.get("worker_name"))
             for t in reply["transitions"]]
    # A complete record starts at the submission; one that rolled over says so instead.
    if reply["submitted_us"] is not None and not reply["note"]:
        steps.insert(0, Step(reply["submitted_us"], None, "waiting", "submitted", None, None))
    return TaskStory(reply["id"], reply["label"], reply["state"], steps, reply["why"], reply["failure"],
                     reply["note"])


def format_story(stories, worker_names=None, cancelled=None):
    """Readable text: per task a heading, then its steps with times relative to its first
    step, the worker and the reason; the failure, why it is not running, and any note.
    ``worker_names``: {data address: name} (worker_names()), else workers are addresses.
    ``cancelled``: {task id: what cancelled it ("by %treadle stop"; "" if not said)}, the
    client's knowledge: the server only saw that nobody needed the task any more."""
    cancelled = cancelled or {}
    return "\n\n".join(_format_one(s, worker_names, cancelled.get(s.id)) for s in stories)


def _cancelled_by(cause):
    return "cancelled " + (cause or "by its client")


def _format_one(s, worker_names, cancel_cause=None):
    name = "task {} ({})".format(s.id, s.label) if s.label else "task {}".format(s.id)
    lines = ["{}: {}".format(name, s.state)]
    start = s.steps[0].time_us if s.steps else 0
    lost = _lost_before(s.steps, worker_names)
    rows = [("{:+.3f} s".format((step.time_us - start) / 1e6), _change(step),
             _detail(step, worker_names, lost[i], _cancelled_by(cancel_cause)
                     if cancel_cause is not None and step.to_state == "cancelled" else None))
            for i, step in enumerate(s.steps)]
    width = max((len(r[1]) for r in rows), default=0)
    for when, change, detail in rows:
        lines.append("  {:>10}  {:<{w}}  {}".format(when, change, detail, w=width).rstrip())
    if s.failure:
        message = sources_named(failure_message(s.failure, s.id)).replace("\n", "\n    ")
        lines.append("  failed: " + message)
    if s.why and cancel_cause is not None and s.state == "cancelled":
        lines.append("  not running: it was {} before it finished: it will not run".format(_cancelled_by(cancel_cause)))
    elif s.why:
        lines.append("  not running: " + _named(s.why, _with_story_names(s, worker_names)))
    if s.note:
        lines.append("  note: " + s.note)
    return "\n".join(lines)


def _with_story_names(record, worker_names):
    """{data address: name}: the connected workers', and those the story's steps name (a worker
    lost since is in no status any more)."""
    names = {step.worker: step.worker_name for step in record.steps if step.worker and step.worker_name}
    names.update(worker_names or {})
    return names


def _named(text, worker_names):
    """The server's text with each worker's data address replaced by its name."""
    for address, name in (worker_names or {}).items():
        text = text.replace(address, name)
    return text


def last_steps(record, count=3, worker_names=None):
    """Short lines for a hover: the last ``count`` steps (what and why, where), then why it is
    not running or its failure's last line. ``worker_names``: {data address: name}, to name the
    workers as the rest of the hover does."""
    lost = _lost_before(record.steps, worker_names)
    lines = ["{}: {}".format(_change(step), _detail(step, worker_names, why_again))
             for step, why_again in list(zip(record.steps, lost))[-count:]]
    if record.why:
        lines.append("not running: " + _named(record.why, _with_story_names(record, worker_names)))
    elif record.failure:
        lines.append("failed: " + failure_line(record.failure, record.id))
    return lines


# "ValueError: Task id=6 (bad) failed: ValueError: hit zero": a task raised what a task it
# waited on raised; str() of that error names the inner task, which its where-lines say already.
_NESTED = re.compile(r"^([\w.]+): Task id=(\d+)(?: \([^\n]*?\))? failed: (?=\1: )", re.M)
_INPUT = re.compile(r"^input task (\d+)(?: \([^\n]*?\))? failed: ")   # the server's, for a dependent
_WORKER = re.compile(r"\n\(on worker ([^\n]*)\)\s*$")
# A where-line naming no task: the innermost task's, whose error's heading ("Task id=N") named it.
_BARE_WORKER = re.compile(r"^\(on worker ((?:(?!, task )[^\n])*)\)$", re.M)


def failure_message(failure, task_id):
    """A failure's text as the raised exception's message reads (docs/kernel.md): the
    exception's own line once, not piled up through the nested tasks that raised it again, and
    one "(on worker W, task N)" line per task of such a chain."""
    text = failure.rstrip("\n")
    inner = [m.group(2) for m in _NESTED.finditer(text)]
    text = _NESTED.sub("", text)
    worker = _WORKER.search(text)
    if worker and "(on worker " in text[:worker.start()] and ", task " not in worker.group(1):
        dependent_of = _INPUT.match(text)
        origin = dependent_of.group(1) if dependent_of else task_id
        chain = text[:worker.start()]
        if inner:
            chain = _BARE_WORKER.sub(lambda m: "(on worker {}, task {})".format(m.group(1), inner[-1]), chain)
        text = chain + "\n(on worker {}, task {})".format(worker.group(1), origin)
    return text


def failure_line(failure, task_id):
    """The failure's exception line (what a hover shows): "ValueError: hit zero", for a
    dependent "input task 4 (parse) failed: ValueError: hit zero"."""
    text = failure_message(failure, task_id)
    dependent_of = _INPUT.match(text)
    head = dependent_of.group(0) if dependent_of else ""
    lines = text[len(head):].splitlines()
    if lines and lines[0].startswith("Traceback (most recent call last):"):
        lines = lines[1:]
        while lines and lines[0].startswith(" "):   # the frames: "  File ..." and their source
            lines = lines[1:]
    line = next((line for line in lines if line.strip()), "")
    return head + line


def _change(step):
    return step.to_state if step.from_state is None else "{} -> {}".format(step.from_state, step.to_state)


def _worker_name(step, worker_names):
    # Its name as the server knew it then (an address may have been taken by a new worker since).
    return step.worker_name or (worker_names or {}).get(step.worker, step.worker)


def _lost_before(steps, worker_names=None):
    """Per step: for the first placement after the task went back to waiting because a worker
    was lost, that worker's name (it is placed again for that reason, whatever drew it where it
    goes now); else None."""
    lost, out = None, []
    for step in steps:
        if step.to_state == "waiting" and step.from_state is not None:
            lost = _worker_name(step, worker_names) if step.worker and "lost" in step.reason else None
        out.append(lost if step.to_state == "assigned" else None)
        if step.to_state == "assigned":
            lost = None
    return out


def _detail(step, worker_names=None, lost=None, reason=None):
    """``lost``: the name of the worker whose loss this placement follows (_lost_before);
    ``reason``: what the client knows of the step's cause, said instead of the server's."""
    text = reason or step.reason
    if lost is not None:
        text = "placed again because worker {} was lost".format(lost)
        if step.placement == "chained":
            text += " ({})".format(step.reason)
    if step.placement in _PLACEMENTS:
        text += " ({}: {})".format(step.placement, _PLACEMENTS[step.placement])
    if step.worker:
        worker = _worker_name(step, worker_names)
        if step.to_state == "assigned":
            text += ", to " + worker
        elif "lost" in step.reason:
            # Gone from status: its address too, as its own log and the trace's transfers name it.
            text += " ({})".format(worker if worker == step.worker else "{} at {}".format(worker, step.worker))
        else:
            text += ", on " + worker
    return text


class Story:
    """What ``Client.story(futures)`` returns: prints as readable text; ``records`` (also by
    index and iteration) are the TaskStory records."""

    def __init__(self, records, worker_names=None, cancelled=None):
        self.records = list(records)
        self.worker_names = worker_names or {}
        self.cancelled = cancelled or {}   # task id -> what cancelled it (format_story)

    def __getitem__(self, index):
        return self.records[index]

    def __iter__(self):
        return iter(self.records)

    def __len__(self):
        return len(self.records)

    def __str__(self):
        return format_story(self.records, self.worker_names, self.cancelled)

    __repr__ = __str__
