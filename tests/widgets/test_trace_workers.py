"""Workers joining, retiring, retired and lost in the trace widget (docs/widgets.md, "Trace"):
each is a mark across its worker's lanes in the payload the script draws, in the static picture
(with its hover text) and in the legend and summary. The last two tests take them from a real
cluster: a worker killed mid-run, and a worker retired."""

import os
import signal
import sys
import xml.etree.ElementTree as ET

import cloudpickle

import treadle
from bench.widget_shapes import trace_events
from tests.conftest import wait_until
from treadle import trace as _trace
from treadle.widgets import gantt
from treadle.widgets.trace_workers import KINDS

cloudpickle.register_pickle_by_value(sys.modules[__name__])

LOST_COLOR = KINDS["worker_lost"][1]


def with_worker_events():
    """10 tasks on workers 0 and 1; worker 0 joined before them (no mark: it was there from the
    start), worker 1 was lost, worker 9 joined after them and ran nothing, then retired."""
    tr = trace_events(10, workers=2, lanes=2)
    bars = [e for e in tr["events"] if e["kind"] == "task"]
    first, last = min(e["start_us"] for e in bars), max(e["end_us"] for e in bars)

    def at(kind, worker, t, **more):
        return dict(kind=kind, worker=worker, start_us=t, end_us=t, **more)
    tr["events"] += [at("worker_joined", 0, first - 500, name="h:100"),
                     at("worker_lost", 1, last - 100, name="h:101 (no heartbeat)", reason="no heartbeat"),
                     at("worker_joined", 9, last + 100, name="h:109"),
                     at("worker_retiring", 9, last + 200, name="h:109"),
                     at("worker_retired", 9, last + 300, name="h:109")]
    return tr


def marks(view):
    """The payload's worker marks: [(kind, first lane's name, last lane's name, µs from t0, tip)]."""
    p = view.payload()
    wm = p.get("wm") or {"t": [], "k": [], "a": [], "b": [], "tip": [], "kinds": []}
    kinds = {name: kind for kind, (name, _, _) in KINDS.items()}
    return [(kinds[wm["kinds"][k][0]], p["lanes"][a], p["lanes"][b], t, tip)
            for t, k, a, b, tip in zip(wm["t"], wm["k"], wm["a"], wm["b"], wm["tip"])]


def test_worker_events_are_marks_across_their_workers_lanes():
    view = gantt.TraceView(with_worker_events())
    got = marks(view)
    assert [m[0] for m in got] == ["worker_lost", "worker_joined", "worker_retiring", "worker_retired"]
    lost = got[0]
    assert lost[1] == "w1 · quick tasks" and lost[2] == "w1 · programs"   # both of its lanes
    assert "worker lost: h:101 (id 1)" in lost[4] and "why: no heartbeat" in lost[4], lost[4]
    assert lost[4].splitlines()[1].startswith("at ")
    for kind, a, b, _, tip in got[1:]:    # a worker with no bar gets a lane of its own, named
        assert a == b == "h:109 · quick tasks" and "h:109 (id 9)" in tip
    assert [m[3] for m in got] == sorted(m[3] for m in got) and got[-1][3] == view.span   # the axis reaches them
    p = view.payload()
    assert {tuple(k) for k in p["wm"]["kinds"]} == {tuple(KINDS[k]) for k in KINDS}
    assert p["wm"]["kinds"][0] == ["worker lost", LOST_COLOR, "lost"]


def test_worker_marks_in_the_summary_legend_attributes_and_picture():
    view = gantt.TraceView(with_worker_events())
    bundle = view.bundle()
    html = bundle["text/html"]
    assert (", 1 worker lost, 1 worker retiring, 1 worker retired, 1 worker joined," in view.summary() and
            view.summary() in bundle["text/plain"]), view.summary()
    assert 'data-worker-marks="4"' in html and 'data-workers-lost="1"' in html
    legend = html.split('class="treadle-legend"', 1)[1].split("</div>", 1)[0]
    for name, color, _ in KINDS.values():
        assert "background:{}\"></span> {}</span>".format(color, name) in legend, legend
    svg = ET.fromstring(bundle["image/svg+xml"])
    drawn = [g for g in svg.iter() if g.get("class") == "treadle-worker-mark"]
    assert sorted(g.get("data-kind") for g in drawn) == sorted(KINDS)
    lost = next(g for g in drawn if g.get("data-kind") == "worker_lost")
    assert "why: no heartbeat" in next(el.text for el in lost if el.tag.endswith("title"))
    assert {el.get("stroke") for el in lost if el.tag.endswith("line")} == {LOST_COLOR}


def test_only_the_kinds_present_have_a_legend_entry():
    tr = trace_events(10, workers=2, lanes=2)
    plain = gantt.TraceView(tr).bundle()["text/html"]
    assert "worker lost" not in plain and "treadle-legend-worker" not in plain and 'data-worker-marks="0"' in plain
    t = max(e["end_us"] for e in tr["events"] if e["kind"] == "task")
    tr["events"].append({"kind": "worker_lost", "worker": 0, "name": "w0 (no heartbeat)", "start_us": t, "end_us": t})
    html = gantt.TraceView(tr).bundle()["text/html"]
    legend = html.split('class="treadle-legend"', 1)[1].split("</div>", 1)[0]
    assert "worker lost" in legend and "worker joined" not in legend and "worker retired" not in legend
    assert "why: no heartbeat" in marks(gantt.TraceView(tr))[0][4]   # the reason from the name (an older server)


def gate_task(path, value):
    import os
    import time
    while not os.path.exists(path):
        time.sleep(0.01)
    return value


def both_running(client, futures, what):
    ids = [f.task_id for f in futures]
    wait_until(lambda: client.core.states(ids) == ["running"] * len(ids), timeout=60, what=what)


def test_a_worker_killed_mid_run_is_marked_lost(make_cluster, tmp_path):
    """Two workers run a task each to its end, then one each again; one worker is killed during
    the second: its bars stop, and a lost mark on its lanes says when and why."""
    cluster = make_cluster(workers=2, cpus=1, server_args=["--worker-timeout", "1000"])
    client = treadle.Client(cluster, output=None)
    try:
        first = [client.submit(gate_task, str(tmp_path / "first"), i) for i in range(2)]
        both_running(client, first, "the first two tasks running, one per worker")
        open(tmp_path / "first", "w").close()
        assert [f.result() for f in first] == [0, 1]
        second = [client.submit(gate_task, str(tmp_path / "second"), i) for i in range(2, 4)]
        both_running(client, second, "the second two tasks running, one per worker")
        victim = client.status()["workers"][0]
        pid = int(victim["name"].rsplit(":", 1)[1])
        process = next(w for w in cluster.workers if w.pid == pid)
        os.kill(pid, signal.SIGKILL)
        process.wait(10)
        open(tmp_path / "second", "w").close()
        assert [f.result(timeout=60) for f in second] == [2, 3]   # the victim's task ran again
        wait_until(lambda: _trace.events(client, kinds=["worker_lost"])["events"], timeout=30,
                   what="the worker_lost event")

        view = gantt.trace_view(client)
        lost = [m for m in marks(view) if m[0] == "worker_lost"]
        assert len(lost) == 1, marks(view)
        _, lane, _, at, tip = lost[0]
        assert lane.startswith(victim["name"] + " · "), (lane, victim)
        assert "worker lost: {} (id {})".format(victim["name"], victim["id"]) in tip and "why: connection closed" in tip, tip
        p = view.payload()
        starts, ends = 0, []
        for i, delta in enumerate(p["s"]):
            starts += delta
            if p["lanes"][p["l"][i]].startswith(victim["name"] + " · "):
                ends.append(starts + p["d"][i])
        assert ends and max(ends) <= at   # its bars stop before the mark
        html = view.bundle()["text/html"]
        assert 'data-workers-lost="1"' in html and ", 1 worker lost" in view.summary()
        # The victim's task ran again on the other worker: its bar's placement names the lost
        # worker, as the task's story does (core/story.py).
        again = "placed again because worker {} was lost".format(victim["name"])
        assert any(again in why for why in p.get("whys", ())), p.get("whys")
        decisions = _trace.events(client, kinds=["decision"])["events"]
        assert [d.get("lost_worker") for d in decisions if d["cause"] == "worker_lost"] == [victim["name"]], decisions
    finally:
        client.close()


def test_a_retired_worker_is_marked_retiring_then_retired(make_cluster, tmp_path):
    cluster = make_cluster(workers=2, cpus=1)
    client = treadle.Client(cluster, output=None)
    try:
        first = [client.submit(gate_task, str(tmp_path / "gate"), i) for i in range(2)]
        both_running(client, first, "two tasks running, one per worker")
        open(tmp_path / "gate", "w").close()
        assert [f.result() for f in first] == [0, 1]
        leaving = client.status()["workers"][0]
        assert client.retire_workers([leaving["id"]]) == [leaving["name"]]
        wait_until(lambda: all(w["id"] != leaving["id"] for w in client.status()["workers"]), timeout=30,
                   what="the retired worker leaving")
        wait_until(lambda: _trace.events(client, kinds=["worker_retired"])["events"], timeout=30,
                   what="the worker_retired event")

        view = gantt.trace_view(client)
        mine = [m for m in marks(view) if m[0] != "worker_joined"]
        assert [m[0] for m in mine] == ["worker_retiring", "worker_retired"], marks(view)
        assert all(m[1].startswith(leaving["name"] + " · ") for m in mine)
        assert "left on purpose" in mine[1][4] and leaving["name"] in mine[1][4]
        assert ", 1 worker retiring, 1 worker retired" in view.summary() and "lost" not in view.summary()
        assert 'data-workers-lost="0"' in view.bundle()["text/html"]
    finally:
        client.close()


def test_busy_time_counts_a_lane_once_where_its_bars_overlap():
    """A task waiting on its children (seceded) leaves its lane to them: the lane is busy for the
    union of the bars, never more than lanes x span (a SCOOP recursion read "busy 288 s" over
    8 lanes x 32.9 s)."""
    def task(i, lane, start, end):
        return {"kind": "task", "worker": 0, "lane": lane, "task": i, "start_us": start, "end_us": end,
                "size": 8, "label": "f", "type": "loom/py/call"}
    events = [task(1, 0, 1_000_000, 5_000_000),      # the parent, waiting on 2 and 3 from 2 s on
              task(2, 0, 2_000_000, 3_000_000), task(3, 0, 2_500_000, 4_000_000),
              task(4, 1, 1_000_000, 2_000_000), task(5, 1, 3_000_000, 4_000_000)]
    view = gantt.TraceView({"workers": [{"id": 0, "name": "w0"}], "events": events})
    assert view.busy_us == 4_000_000 + 2_000_000, view.busy_us
    assert "(busy 6" in view.summary(), view.summary()


def test_a_task_run_again_is_counted_once_with_its_attempts_marked():
    """Two tasks whose results were lost with worker 1 ran again on worker 0: 10 tasks, 12 bars;
    the summary says how many ran again after which loss, the earlier bars are pale attempts."""
    tr = with_worker_events()
    bars = [e for e in tr["events"] if e["kind"] == "task"]
    lost_at = next(e["start_us"] for e in tr["events"] if e["kind"] == "worker_lost")
    again = [dict(e, worker=0, start_us=lost_at + 10 * k, end_us=lost_at + 10 * k + 5)
             for k, e in enumerate([e for e in bars if e["worker"] == 1][:2])]
    tr["events"] += again
    view = gantt.TraceView(tr)
    assert view.summary().startswith("trace: 10 tasks (2 run again after worker h:101 was lost) on "), view.summary()
    page = view.bundle()["text/html"]
    assert 'data-bars="12"' in page and 'data-tasks="10"' in page and 'data-run-again="2"' in page
    p = view.payload()
    groups = [g for g, _ in p["groups"]]
    said = sorted((p["labels"][k], groups[g]) for g, k in zip(p["g"], p["k"]) if "attempt" in p["labels"][k])
    lost = [("{} — attempt 1 of 2: its result was lost with worker h:101".format(e["label"]), gantt.ATTEMPT_GROUP)
            for e in again]
    assert [s for s in said if s[1] == gantt.ATTEMPT_GROUP] == sorted(lost), said
    last = [label for label, group in said if group != gantt.ATTEMPT_GROUP]   # in their own group's colour
    assert last == sorted("{} — attempt 2 of 2".format(e["label"]) for e in again), said
    assert gantt.ATTEMPT_GROUP in page   # in the legend
