"""Traces of what ran where and when, in the Chrome / Perfetto trace event format.

    events = treadle.trace.events(client)                  # the server's recent events
    treadle.trace.write_chrome_trace("run.json", events)   # open in https://ui.perfetto.dev

One process per worker, one thread per lane (its event loop, its threads, each Python
executor); tasks are complete ("X") events named by label and coloured by label group
(the text before the first ':'; Rain-style names group by their first '/'); transfers
between workers are flow arrows.
"""

import json

_LANES = {0: "event loop", 1: "threads"}


def lane_name(lane):
    return _LANES.get(lane, "executor {}".format(lane - 2))


def label_group(label):
    """The part of a label that picks its colour (HyperLoom's rule; Rain names by '/')."""
    if not label:
        return ""
    if ":" in label:
        return label.split(":", 1)[0]
    if "/" in label:
        return label.split("/", 1)[0]
    return label


def events(client, limit=100000):
    """The server's recent trace events (a bounded ring), with its workers."""
    conn = getattr(client, "_conn", None) or client._loom._conn
    return conn.trace(limit)


def chrome_trace(trace):
    """A Chrome trace (dict with "traceEvents") of a reply of ``events()``."""
    workers = {w["id"]: w["name"] for w in trace.get("workers", [])}
    out = []
    for wid, name in workers.items():
        out.append({"ph": "M", "name": "process_name", "pid": wid, "tid": 0, "ts": 0,
                    "args": {"name": "worker {}".format(name)}})
    lanes = set()
    flow = 0
    for e in trace.get("events", []):
        kind = e["kind"]
        if kind == "task":
            lanes.add((e["worker"], e["lane"]))
            label = e.get("label") or e.get("type")
            out.append({"ph": "X", "name": label, "cat": label_group(label) or e.get("type", ""),
                        "pid": e["worker"], "tid": e["lane"], "ts": e["start_us"],
                        "dur": max(0, e["end_us"] - e["start_us"]),
                        "args": {"task": e["task"], "type": e["type"], "size": e["size"]}})
        elif kind == "transfer":
            flow += 1
            sender = e["from"] if e["from"] in workers else e["worker"]
            common = {"name": "transfer", "cat": "transfer", "id": flow}
            out.append(dict(common, ph="s", pid=sender, tid=0, ts=e["start_us"]))
            out.append(dict(common, ph="f", bp="e", pid=e["worker"], tid=0, ts=e["end_us"],
                            args={"object": e["object"], "size": e["size"]}))
            lanes.add((e["worker"], 0))
            lanes.add((sender, 0))
            out.append({"ph": "X", "name": "fetch {} B".format(e["size"]), "cat": "transfer",
                        "pid": e["worker"], "tid": 0, "ts": e["start_us"],
                        "dur": max(0, e["end_us"] - e["start_us"]), "args": {"object": e["object"]}})
        else:
            out.append({"ph": "i", "s": "p", "name": "{} {}".format(kind.replace("_", " "), e.get("name", "")),
                        "pid": e["worker"], "tid": 0, "ts": e["start_us"]})
    for pid, tid in sorted(lanes):
        out.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "ts": 0,
                    "args": {"name": lane_name(tid)}})
    return {"traceEvents": out, "displayTimeUnit": "ms"}


def write_chrome_trace(path, trace):
    with open(path, "w") as f:
        json.dump(chrome_trace(trace), f)
    return path


def read_jsonl(path):
    """Events a server wrote with set_trace (one JSON object per line)."""
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
