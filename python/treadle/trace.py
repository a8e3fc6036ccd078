"""Traces of what ran where and when, in the Chrome / Perfetto trace event format.

    events = treadle.trace.events(client)                  # the server's recent events
    treadle.trace.write_chrome_trace("run.json", events)   # open in https://ui.perfetto.dev
    problems = treadle.trace.validate(treadle.trace.chrome_trace(events))   # [] if well formed

One process per worker, one thread per lane (its event loop, its threads, each Python
executor); tasks are complete ("X") events named by label and coloured by label group
(the text before the first ':'; Rain-style names group by their first '/'), with the
scheduler's decision (why that worker) and the queue wait (ready -> start) in their args;
transfers between workers are flow arrows; each worker has counter tracks of its cpu use and
memory. Placements of tasks that have not ended yet are instant events on the "server" process.

The event kinds the server records are described in docs/tracing.md.
"""

import json

# Lanes are named in the user's words: lane 0 is the worker's event loop, where built-in tasks that
# take microseconds run inline and transfers start; lane 1 its threads (programs, sleeps, big
# merges); lane 2+i its Python executor i, counted from 1 as people count.
_LANES = {0: "quick tasks", 1: "programs"}
_LANE_HELP = {0: "built-in tasks that take microseconds (constants, slices, small merges) and transfers",
              1: "programs (tasks.run), sleeps and big merges, on the worker's threads"}

# The pid of the "server" process in the Chrome trace (decisions of tasks not yet ended).
SERVER_PID = 1000000


def lane_name(lane):
    return _LANES.get(lane, "Python {}".format(lane - 1))


def lane_help(lane):
    """What runs on a lane, in a sentence (the lane name's hover)."""
    return _LANE_HELP.get(lane, "one of the worker's Python processes (one per cpu)")


def type_name(task_type):
    """A task type in the user's words: its last part ("loom/data/const" is "const"); a Python
    call is "python"."""
    return _TYPE_NAMES.get(task_type) or (task_type or "").rsplit("/", 1)[-1]


_TYPE_NAMES = {"loom/py/call": "python"}


def label_group(label):
    """The part of a label that picks its colour (HyperLoom's rule; Rain names by '/')."""
    if not label:
        return ""
    if ":" in label:
        return label.split(":", 1)[0]
    if "/" in label:
        return label.split("/", 1)[0]
    return label


def events(client, limit=100000, kinds=None):
    """The server's recent trace events (a bounded ring), with its workers: a dict
    ``{"events": [...], "workers": [{id, name, cpus, alive}], "recorded": n, "file": path}``.
    ``kinds`` (e.g. ``["sample"]``) keeps only those kinds."""
    return connection_of(client).trace(limit, kinds=kinds)


def connection_of(client):
    """The connection of a client of any API (a native treadle.Client holds a core client, which
    holds the connection), or ``client`` itself when it is one."""
    core = getattr(client, "core", client)
    return getattr(core, "connection", core)


def wait_us(task_event):
    """Queue wait of a task event: ready -> start (µs), or None for a task that never queued
    (chained behind its inputs on its worker)."""
    ready = task_event.get("ready_us")
    if ready is None:
        return None
    return max(0, task_event["start_us"] - ready)


def attempts(task_events):
    """{id(event): (k, n)} for the bars of tasks that ran more than once among ``task_events``:
    the event is attempt k of its task's n, in start order. A task runs again when its result was
    lost with its worker while still needed (the server recomputes it): each run has its bar."""
    runs = {}
    for e in task_events:
        runs.setdefault(e["task"], []).append(e)
    out = {}
    for bars in runs.values():
        if len(bars) > 1:
            bars.sort(key=lambda e: e["start_us"])
            for k, e in enumerate(bars, 1):
                out[id(e)] = (k, len(bars))
    return out


def count_tasks(task_events, lost_workers=(), failed=None):
    """"30 tasks (1 failed, 5 run again after worker vm:12 was lost)": each task counted once
    however often it ran (``attempts``), with how many failed and how many ran again;
    ``lost_workers``: the names of the workers lost meanwhile (one is named, as the loss the
    reruns followed); ``failed``: the ids of the tasks to count failed (default: those whose bar
    says so; the trace widget counts a failed task it draws cancelled as cancelled)."""
    ran = {}
    for e in task_events:
        ran[e["task"]] = ran.get(e["task"], 0) + 1
    if failed is None:
        failed = {e["task"] for e in task_events if e.get("failed")}
    again = sum(1 for n in ran.values() if n > 1)
    notes = []
    if failed:
        notes.append("{} failed".format(len(failed)))
    if again:
        after = " after worker {} was lost".format(lost_workers[0]) if len(lost_workers) == 1 else \
            " after {} workers were lost".format(len(lost_workers)) if lost_workers else ""
        notes.append("{} run again{}".format(again, after))
    return "{} task{}{}".format(len(ran), "" if len(ran) == 1 else "s", " ({})".format(", ".join(notes)) if notes else "")


def _worker_names(trace):
    names = {w["id"]: w["name"] for w in trace.get("workers", [])}
    for e in trace.get("events", []):
        if e["kind"] == "worker_joined" and e["worker"] not in names:
            names[e["worker"]] = e.get("name", str(e["worker"]))
    return names


def chrome_trace(trace):
    """A Chrome trace (dict with "traceEvents") of a reply of ``events()``."""
    workers = _worker_names(trace)
    evs = trace.get("events", [])
    # The latest decision for each task, for the args of its slice.
    decision_of = {}
    for e in evs:
        if e["kind"] == "decision":
            decision_of[e["task"]] = e
    ended = {e["task"] for e in evs if e["kind"] == "task"}
    attempt_of = attempts([e for e in evs if e["kind"] == "task"])   # a task run again: a slice per run
    out = []
    pids = set(workers)
    lanes = set()
    flow = 0
    for e in evs:
        kind = e["kind"]
        if kind == "task":
            pids.add(e["worker"])
            lanes.add((e["worker"], e["lane"]))
            label = e.get("label") or e.get("type")
            args = {"task": e["task"], "type": e["type"], "size": e["size"]}
            wait = wait_us(e)
            if wait is not None:
                args["ready_us"] = e["ready_us"]
                args["wait_us"] = wait
            d = decision_of.get(e["task"])
            if d is not None:
                args["placed"] = d["why"]
                args["reason"] = d["reason"]
                if d["reason"] == "chained":
                    args["chained"] = True
            slice_ = {"ph": "X", "name": label, "cat": label_group(label) or e.get("type", ""),
                      "pid": e["worker"], "tid": e["lane"], "ts": e["start_us"],
                      "dur": max(0, e["end_us"] - e["start_us"]), "args": args}
            if id(e) in attempt_of:
                args["attempt"], args["attempts"] = attempt_of[id(e)]
                slice_["name"] = "{} (attempt {} of {})".format(label, *attempt_of[id(e)])
            if e.get("failed"):   # red in chrome://tracing ("terrible"), and said in its args
                slice_["name"] = "{} (failed)".format(label)
                slice_["cname"] = "terrible"
                args["failed"] = True
                if e.get("error"):
                    args["error"] = e["error"]
            out.append(slice_)
        elif kind == "transfer":
            flow += 1
            sender = e["from"] if e["from"] in workers else e["worker"]
            pids.update((sender, e["worker"]))
            common = {"name": "transfer", "cat": "transfer", "id": flow}
            out.append(dict(common, ph="s", pid=sender, tid=0, ts=e["start_us"]))
            out.append(dict(common, ph="f", bp="e", pid=e["worker"], tid=0, ts=e["end_us"],
                            args={"object": e["object"], "size": e["size"]}))
            lanes.add((e["worker"], 0))
            lanes.add((sender, 0))
            out.append({"ph": "X", "name": "fetch {} B".format(e["size"]), "cat": "transfer",
                        "pid": e["worker"], "tid": 0, "ts": e["start_us"],
                        "dur": max(0, e["end_us"] - e["start_us"]), "args": {"object": e["object"]}})
        elif kind == "sample":
            pids.add(e["worker"])
            out.append({"ph": "C", "name": "cpu %", "pid": e["worker"], "tid": 0, "ts": e["start_us"],
                        "args": {"cpu": e["cpu"]}})
            out.append({"ph": "C", "name": "memory MB", "pid": e["worker"], "tid": 0, "ts": e["start_us"],
                        "args": {"rss": round(e["rss"] / 1e6, 3), "store": round(e["store"] / 1e6, 3)}})
        elif kind == "decision":
            if e["task"] in ended:
                continue  # in the args of the task's slice
            pids.add(SERVER_PID)
            out.append({"ph": "i", "s": "t", "name": "placed task {} on worker {}".format(e["task"], e["worker"]),
                        "cat": "decision", "pid": SERVER_PID, "tid": 0, "ts": e["start_us"],
                        "args": {"task": e["task"], "worker": e["worker"], "why": e["why"],
                                 "reason": e["reason"], "cause": e["cause"]}})
        elif kind == "cancelled":
            pids.add(e["worker"])
            lanes.add((e["worker"], 0))   # its mark's thread, named as the others
            named = e.get("label") or "task {}".format(e["task"])   # (traces of older servers: no label)
            out.append({"ph": "i", "s": "t", "name": "{} cancelled ({})".format(
                named, "running" if e["running"] else "queued"), "cat": "cancelled", "pid": e["worker"],
                "tid": 0, "ts": e["start_us"], "args": {"task": e["task"], "running": e["running"],
                                                        "label": e.get("label", ""), "type": e.get("type", "")}})
        else:
            pids.add(e["worker"])
            out.append({"ph": "i", "s": "p", "name": "{} {}".format(kind.replace("_", " "), e.get("name", "")),
                        "pid": e["worker"], "tid": 0, "ts": e["start_us"]})
    meta = []
    for pid in sorted(pids):
        name = "server (placements)" if pid == SERVER_PID else "worker {}".format(workers.get(pid, pid))
        meta.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0, "ts": 0, "args": {"name": name}})
        if pid == SERVER_PID:
            lanes.add((pid, 0))
    for pid, tid in sorted(lanes):
        name = "decisions" if pid == SERVER_PID else lane_name(tid)
        meta.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "ts": 0, "args": {"name": name}})
    return {"traceEvents": meta + out, "displayTimeUnit": "ms"}


def write_chrome_trace(path, trace):
    with open(path, "w") as f:
        json.dump(chrome_trace(trace), f)
    return path


def read_jsonl(path):
    """Events a server wrote with set_trace (one JSON object per line)."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


_PHASES = {"X", "B", "E", "i", "I", "C", "M", "s", "t", "f", "b", "e", "n"}
_META = {"process_name", "thread_name", "process_sort_index", "thread_sort_index", "process_labels"}


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def validate(doc):
    """Checks a Chrome/Perfetto trace (the dict ``chrome_trace`` makes) against the format's
    rules; returns a list of problems, empty when it is well formed:

    - a dict with a list "traceEvents"; every event has ph, ts, pid and tid (ts a number,
      pid and tid integers) and a known phase;
    - complete events ("X") have a name and a duration >= 0;
    - begin/end events ("B"/"E") are balanced per thread, an end never before its begin;
    - flow arrows ("s"/"f") have both ends, per id; counters ("C") have numeric args;
    - metadata ("M") are process or thread names (with args.name); every process that has
      events has a process_name, every thread with slices a thread_name.
    """
    problems = []
    if not isinstance(doc, dict) or not isinstance(doc.get("traceEvents"), list):
        return ["not a dict with a list 'traceEvents'"]
    stacks = {}
    flows = {}
    named_pids, named_threads = set(), set()
    used_pids, sliced_threads = set(), set()
    for i, e in enumerate(doc["traceEvents"]):
        where = "event {}".format(i)
        if not isinstance(e, dict):
            problems.append("{}: not an object".format(where))
            continue
        missing = [k for k in ("ph", "ts", "pid", "tid") if k not in e]
        if missing:
            problems.append("{} ({}): missing {}".format(where, e.get("name"), ", ".join(missing)))
            continue
        ph, ts, pid, tid = e["ph"], e["ts"], e["pid"], e["tid"]
        if ph not in _PHASES:
            problems.append("{}: unknown phase {!r}".format(where, ph))
            continue
        if not _is_number(ts):
            problems.append("{}: ts is not a number ({!r})".format(where, ts))
        if not _is_int(pid) or not _is_int(tid):
            problems.append("{}: pid and tid must be integers ({!r}, {!r})".format(where, pid, tid))
            continue
        if ph == "M":
            if e.get("name") not in _META:
                problems.append("{}: unknown metadata {!r}".format(where, e.get("name")))
            elif e["name"] in ("process_name", "thread_name"):
                if not isinstance(e.get("args"), dict) or not isinstance(e["args"].get("name"), str):
                    problems.append("{}: {} without args.name".format(where, e["name"]))
                elif e["name"] == "process_name":
                    named_pids.add(pid)
                else:
                    named_threads.add((pid, tid))
            continue
        used_pids.add(pid)
        if ph == "X":
            if not e.get("name"):
                problems.append("{}: a complete event without a name".format(where))
            if not _is_number(e.get("dur")) or e["dur"] < 0:
                problems.append("{} ({}): dur must be a number >= 0, is {!r}".format(where, e.get("name"), e.get("dur")))
            sliced_threads.add((pid, tid))
        elif ph == "B":
            if not e.get("name"):
                problems.append("{}: a begin event without a name".format(where))
            stacks.setdefault((pid, tid), []).append((ts, e.get("name")))
            sliced_threads.add((pid, tid))
        elif ph == "E":
            stack = stacks.get((pid, tid))
            if not stack:
                problems.append("{}: an end event with no begin on pid {} tid {}".format(where, pid, tid))
            else:
                begin_ts, name = stack.pop()
                if _is_number(ts) and _is_number(begin_ts) and ts < begin_ts:
                    problems.append("{}: {!r} ends before it begins".format(where, name))
        elif ph in ("s", "f", "t"):
            if "id" not in e:
                problems.append("{}: a flow event without an id".format(where))
            else:
                flows.setdefault(e["id"], []).append(ph)
        elif ph == "C":
            args = e.get("args")
            if not e.get("name") or not isinstance(args, dict) or not args or \
                    not all(_is_number(v) for v in args.values()):
                problems.append("{}: a counter needs a name and numeric args, got {!r}".format(where, args))
        elif ph in ("i", "I"):
            if e.get("s", "t") not in ("g", "p", "t"):
                problems.append("{}: instant scope must be g, p or t".format(where))
    for (pid, tid), stack in stacks.items():
        for _, name in stack:
            problems.append("{!r} on pid {} tid {} begins and never ends".format(name, pid, tid))
    for ident, phases in flows.items():
        if phases.count("s") != 1 or phases.count("f") != 1:
            problems.append("flow {!r} has phases {} (needs one s and one f)".format(ident, sorted(phases)))
    for pid in sorted(used_pids - named_pids):
        problems.append("process {} has events but no process_name".format(pid))
    for pid, tid in sorted(sliced_threads - named_threads):
        problems.append("thread {} of process {} has slices but no thread_name".format(tid, pid))
    return problems
