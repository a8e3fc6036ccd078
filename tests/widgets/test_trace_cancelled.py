"""Cancelled tasks in the trace widget (docs/widgets.md, "Trace"): the trace's ``cancelled``
events are drawn as task ends, in their own colour under their own legend entry, in the
payload the script draws, in the static picture and in the summary; the Perfetto export marks
them. The last test takes them from a real server's trace."""

import sys
import time
import xml.etree.ElementTree as ET

import cloudpickle

import treadle
from bench.widget_shapes import trace_events
from tests.conftest import wait_until
from treadle import trace as _trace
from treadle.widgets import gantt
from treadle.widgets.trace_cancels import CANCELLED_COLOR, CANCELLED_GROUP

cloudpickle.register_pickle_by_value(sys.modules[__name__])

END = 5_000_000   # after every task of trace_events(10): the cancels come last


def with_cancels():
    """10 tasks on 2 workers; task 3's bar ended "cancelled" (a sleep told to stop); task 20 was
    cancelled running on worker 1 and task 21 queued on worker 7, which ran nothing."""
    tr = trace_events(10, workers=2, lanes=2)
    for e in tr["events"]:
        if e.get("task") == 3:
            e.update(failed=True, error="cancelled")
    tr["events"] += [
        {"kind": "cancelled", "worker": 1, "task": 3, "running": True, "start_us": END, "end_us": END},
        {"kind": "cancelled", "worker": 1, "task": 20, "running": True, "start_us": END + 10, "end_us": END + 10},
        {"kind": "cancelled", "worker": 7, "task": 21, "running": False, "start_us": END + 20, "end_us": END + 20}]
    tr["workers"].append({"id": 7, "name": "w7"})
    return tr


def cancelled_bars(view):
    p = view.payload()
    starts, bars = 0, []
    for i, delta in enumerate(p["s"]):
        starts += delta
        if p["g"][i] == p["cancelled"]:
            bars.append((starts, p["d"][i], p["lanes"][p["l"][i]], p["t"][i], p["labels"][p["k"][i]]))
    return bars


def cancel_a_running_and_a_queued_sleep(client, events):
    """Two long sleeps on a one-cpu worker, cancelled once the first runs; returns (running,
    queued) once the trace has ``events`` cancelled events."""
    running = client.submit(time.sleep, 600)
    queued = client.submit(time.sleep, 600)
    wait_until(lambda: client.core.states([running.task_id])[0] == "running", timeout=30, what="the sleep running")
    client.cancel([running, queued])
    wait_until(lambda: len(_trace.events(client, kinds=["cancelled"])["events"]) >= events, timeout=30,
               what="{} cancelled event(s)".format(events))
    return running, queued


def test_cancelled_tasks_are_drawn_in_their_own_group_and_colour():
    view = gantt.TraceView(with_cancels())
    p = view.payload()
    assert p["groups"][p["cancelled"]] == [CANCELLED_GROUP, CANCELLED_COLOR]
    assert CANCELLED_COLOR not in [c for g, c in p["groups"] if g != CANCELLED_GROUP]
    bars = sorted(cancelled_bars(view), key=lambda b: b[3])
    assert [b[3] for b in bars] == [3, 20, 21]
    three, twenty, twentyone = bars
    assert three[1] > 0 and three[4].endswith(" — cancelled while running")   # its own bar, recoloured
    assert three[4].startswith("map:3") or three[4].startswith("reduce:3")
    assert twenty[:2] == (END - view.t0 + 10, 0) and twenty[4] == "cancelled while running"   # a mark
    assert twenty[2].startswith("w1 · ")                        # on its worker's first lane
    assert twentyone[2].startswith("w7 · ") and twentyone[4] == "cancelled while queued"
    assert view.failed_count == 0 and view.cancelled_count == 3   # task 3 failed as told: cancelled


def test_cancelled_tasks_in_the_bundle_legend_summary_and_picture():
    view = gantt.TraceView(with_cancels())
    bundle = view.bundle()
    html = bundle["text/html"]
    assert " on 5 lanes, 3 cancelled, " in view.summary() and view.summary() in bundle["text/plain"]
    assert 'data-cancelled="3"' in html and 'data-bars="12"' in html   # 10 bars and 2 marks
    legend = html.split('class="treadle-legend"', 1)[1].split("</div>", 1)[0]
    assert "background:{}\"></span> {}".format(CANCELLED_COLOR, CANCELLED_GROUP) in legend, legend
    svg = ET.fromstring(bundle["image/svg+xml"])
    fills = {el.get("fill") for el in svg.iter() if el.tag.endswith("path")}
    assert CANCELLED_COLOR in fills   # the static picture draws them too


def test_a_cancelled_mark_survives_merging():
    tr = trace_events(gantt.BAR_LIMIT + 10, workers=2, lanes=1, groups=("map",))
    tr["events"].append({"kind": "cancelled", "worker": 0, "task": 10 ** 6, "running": False,
                         "start_us": 10 ** 9, "end_us": 10 ** 9})
    view = gantt.TraceView(tr)
    assert view.merged
    p = view.payload()
    assert sum(1 for g in p["g"] if g == p["cancelled"]) == 1


def test_the_perfetto_export_marks_cancelled_tasks_on_a_named_thread():
    tr = with_cancels()
    tr["events"] = [e for e in tr["events"] if e["kind"] != "decision"]   # (trace_events' has no task)
    doc = _trace.chrome_trace(tr)
    assert _trace.validate(doc) == []
    marks = [e for e in doc["traceEvents"] if e.get("cat") == "cancelled"]
    assert sorted(e["args"]["task"] for e in marks) == [3, 20, 21]
    named = {(e["pid"], e["tid"]) for e in doc["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"}
    assert all((e["pid"], e["tid"]) in named for e in marks)


def test_a_real_runs_cancelled_tasks_are_drawn(make_cluster, tmp_path):
    """A cluster's trace: one task cancelled running, one queued behind it; both drawn
    cancelled, and the finished one beside them in its own group."""
    cluster = make_cluster(workers=1, cpus=1)
    client = treadle.Client(cluster, output=None)
    try:
        assert client.submit(int, "1").result() == 1
        running, queued = cancel_a_running_and_a_queued_sleep(client, events=1)
        view = gantt.trace_view(client)
        bars = cancelled_bars(view)
        cancelled = {e["task"] for e in _trace.events(client, kinds=["cancelled"])["events"]}
        assert running.task_id in cancelled
        assert {b[3] for b in bars} == cancelled and view.cancelled_count == len(cancelled)
        assert "int" in view.groups
    finally:
        client.close()


def test_a_cancel_mark_names_its_task():
    """The server's cancelled event carries the task's label and type: the mark's hover names
    the task as a bar's does (its type in the user's words when it has no label)."""
    tr = with_cancels()
    for e in tr["events"]:
        if e["kind"] == "cancelled" and e["task"] == 20:
            e.update(label="fit: 20", type="loom/py/call")
        if e["kind"] == "cancelled" and e["task"] == 21:
            e.update(label="", type="loom/py/call")
    by_task = {b[3]: b for b in cancelled_bars(gantt.TraceView(tr))}
    assert by_task[20][4] == "fit: 20 — cancelled while running"
    assert by_task[21][4] == "python — cancelled while queued"


def test_a_real_runs_cancel_marks_name_their_function(make_cluster):
    cluster = make_cluster(workers=1, cpus=1)
    client = treadle.Client(cluster, output=None)
    try:
        running, queued = cancel_a_running_and_a_queued_sleep(client, events=2)
        events = _trace.events(client, kinds=["cancelled"])["events"]
        assert {(e["task"], e["label"], e["type"]) for e in events} == {
            (running.task_id, "sleep", "loom/py/call"), (queued.task_id, "sleep", "loom/py/call")}
        bars = {b[3]: b for b in cancelled_bars(gantt.trace_view(client))}
        assert bars[queued.task_id][4] == "sleep — cancelled while queued", bars
        assert bars[running.task_id][4] == "sleep — cancelled while running", bars
    finally:
        client.close()
