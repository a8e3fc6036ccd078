"""Pictures in the user's words: no label group in red (red means failed), lanes, types and
workers named as a user would, a time axis that starts at 0, a short task after long ones still
drawn (tests/widgets/test_graph_readable.py: the graph's labels and fan-ins)."""

import colorsys
import re
import xml.etree.ElementTree as ET

from treadle import report
from treadle import trace as _trace
from treadle.widgets import colors, gantt

SVG = "{http://www.w3.org/2000/svg}"


def is_red(color):
    """Red or pink: a hue within the failed band, saturated enough to read as a colour."""
    r, g, b = (int(color[i:i + 2], 16) / 255.0 for i in (1, 3, 5))
    h, _, s = colorsys.rgb_to_hls(r, g, b)
    hue = h * 360
    return (hue < colors.RED_BAND[1] or hue > colors.RED_BAND[0]) and s > 0.3


def test_no_label_group_is_red():
    assert "#d62728" not in colors.PALETTE and is_red("#d62728") and is_red("#e15759") and is_red("#ff9da7")
    assert not [c for c in colors.PALETTE if is_red(c)]
    # beyond the palette, hues come from the names: never in the red band either
    made = [colors.group_color("group-{}".format(i)) for i in range(400)]
    assert len(set(made)) > 100 and not [c for c in made if is_red(c)]
    # the HTML report's groups too
    assert not [report.colour_of(g, list(range(30))) for g in range(30) if is_red(report.colour_of(g, list(range(30))))]


def short_after_long(t=1_000_000):
    """The teaching notebook's question: eight long squares on two lanes, then a 1 ms total
    (from ``t`` µs)."""
    events = []
    for i in range(8):
        start = t + (i // 2) * 300_000
        events.append({"kind": "task", "worker": 1, "lane": 2 + i % 2, "task": i, "start_us": start,
                       "end_us": start + 300_000, "size": 8, "label": "square", "type": "loom/py/call"})
    end = t + 4 * 300_000
    events.append({"kind": "task", "worker": 1, "lane": 2, "task": 8, "start_us": end + 200, "end_us": end + 1200,
                   "size": 8, "label": "total", "type": "loom/py/call"})
    events.append({"kind": "task", "worker": 1, "lane": 0, "task": 9, "start_us": t - 100, "end_us": t - 90,
                   "size": 8, "label": "", "type": "loom/data/const"})
    return {"workers": [{"id": 1, "name": "vm:1790", "cpus": 2}], "events": events}


def test_trace_speaks_the_users_words():
    tv = gantt.TraceView(short_after_long())
    assert tv.lane_names == ["vm:1790 · quick tasks", "vm:1790 · Python 1", "vm:1790 · Python 2"]
    html = tv.bundle()["text/html"]
    assert "event loop" not in html and "executor" not in html.replace("executor process", "")
    assert "loom/" not in html.split('<script type="application/json"')[0]   # the legend says "const"
    assert "const" in tv.groups and "loom/data/const" not in tv.groups
    assert _trace.type_name("loom/py/call") == "python" and _trace.type_name("loom/data/merge") == "merge"
    # the time axis starts at 0, not "0 µs"
    ticks = [t.text for t in ET.fromstring(tv.svg()).iter(SVG + "text")]
    assert ticks[0] == "0" and "µs" not in ticks[0] and len(ticks) >= 4, ticks
    assert tv.payload()["font"] >= 12 and gantt.ROW >= 20


def test_a_short_task_after_long_ones_is_drawn():
    tv = gantt.TraceView(short_after_long())
    total_color = colors.group_color("total")
    svg = ET.fromstring(tv.svg())
    paths = [p for p in svg.iter(SVG + "path") if p.get("fill") == total_color]
    assert len(paths) == 1, "the 1 ms total after 1.2 s of squares is not in the static picture"
    widths = [float(w) for w in re.findall(r"h([\d.]+)v", paths[0].get("d"))]
    assert widths and max(widths) >= gantt.MIN_BAR_PX, paths[0].get("d")
    x = float(re.match(r"M([\d.]+)", paths[0].get("d")).group(1))
    assert x + max(widths) <= gantt.STATIC_WIDTH, "drawn past the picture's right edge"
    assert tv.payload()["minw"] == gantt.MIN_BAR_PX   # the script draws no bar narrower


def test_status_says_who_started_a_worker():
    from treadle.magics.status_report import StatusReport
    status = {"workers": [{"id": 1, "name": "vm:42", "cpus": 1, "free_cpus": 1},
                          {"id": 2, "name": "far:7", "cpus": 1, "free_cpus": 1}], "states": {}}
    text = repr(StatusReport(status, ("127.0.0.1", 1), "in this kernel", {42: object()}))
    assert "by this kernel" in text and "elsewhere" in text and " here" not in text, text


class FakeServer:
    """What a LiveTrace asks of its connection: the status's task states and the events."""

    def __init__(self, trace):
        self.trace_data, self.running = trace, 3
        self.task_states = {}

    def status(self):
        return {"states": {"running": self.running, "finished": 9, "queued-somewhere": 0}}

    def states(self, ids):
        return [self.task_states.get(i, "unknown") for i in ids]

    def trace(self, limit=100000, kinds=None):
        return self.trace_data


class FakePublisher:
    def __init__(self):
        self.sent = []

    def display(self, data, display_id=None, update=False, metadata=None):
        self.sent.append((data, display_id, update))


def test_a_live_trace_grows_until_the_run_ends_then_stops():
    from treadle.widgets import task_stream
    import time
    since = int(time.time() * 1e6) - 3_000_000
    data = short_after_long(since + 1000)
    server, publisher = FakeServer(data), FakePublisher()
    stream = task_stream.LiveTrace(publisher, "shown-1", since, "trace-keep", interval=0)
    deadline = time.monotonic() + 10
    while len(publisher.sent) < 2 and time.monotonic() < deadline:   # (redraws are spaced by their cost)
        stream.tick(server)
    assert len(publisher.sent) == 2 and not stream.finished
    first = publisher.sent[0][0]["text/html"]
    assert 'id="trace-keep"' in first and 'data-live="1"' in first and "(live)" in publisher.sent[0][0]["text/plain"]
    assert all(d == "shown-1" and update for _, d, update in publisher.sent)
    # while live, the time axis reaches now (the tasks still running are after the last that ended)
    live = gantt.TraceView(data, window=(since, None), live=True)
    assert live.span >= 2.9e6 and gantt.TraceView(data, window=(since, None)).span <= 1.3e6
    server.running = 0                      # the run ended: one last, whole update, then nothing
    while not stream.finished and time.monotonic() < deadline:
        stream.tick(server)
    stream.tick(server)
    assert stream.finished and len(publisher.sent) == 3
    last = publisher.sent[-1][0]
    assert 'data-live="0"' in last["text/html"] and last["text/plain"].startswith("trace of the run: 10 tasks")
    # a state the server adds later (not finished, failed, released) counts as still going on
    server.running = 0
    assert task_stream.unfinished(server) == 0
    server.status = lambda: {"states": {"prefetched": 2, "finished": 3}}
    assert task_stream.unfinished(server) == 2


def test_a_live_trace_rides_out_a_busy_server():
    from treadle.widgets import task_stream
    import time
    since = int(time.time() * 1e6) - 3_000_000
    server, publisher = FakeServer(short_after_long(since + 1000)), FakePublisher()
    stream = task_stream.LiveTrace(publisher, "shown-1", since, "trace-keep", interval=0)
    answers = iter([RuntimeError("timed out")] * (task_stream.FAILURES_ALLOWED - 1))

    def status():
        error = next(answers, None)
        if error is not None:
            raise error
        return {"states": {"running": 1}}
    server.status = status
    for _ in range(task_stream.FAILURES_ALLOWED - 1):   # a few failed asks: it waits, it does not end
        stream.tick(server)
    assert not stream.finished and not publisher.sent
    deadline = time.monotonic() + 10
    while not publisher.sent and time.monotonic() < deadline:
        stream.tick(server)
    assert publisher.sent and 'data-live="1"' in publisher.sent[0][0]["text/html"] and not stream.finished


def test_a_live_trace_follows_its_own_tasks():
    """The run's tasks, asked one by one, decide when it ends: not the server's totals (which
    other clients' tasks move, and which have been wrong)."""
    from treadle.widgets import task_stream
    import time
    since = int(time.time() * 1e6) - 3_000_000
    server, publisher = FakeServer(short_after_long(since + 1000)), FakePublisher()
    server.running = 0                                  # the totals say nothing runs...
    server.task_states = {i: "finished" for i in range(10)}
    server.task_states[8] = "running"                   # ...but a task of the run does
    server.task_states[20] = "running"                  # (another run's task: not waited for)
    stream = task_stream.LiveTrace(publisher, "shown-1", since, "keep", interval=0, ranges=[(0, 10)])
    deadline = time.monotonic() + 10
    while len(publisher.sent) < 2 and time.monotonic() < deadline:
        stream.tick(server)
    assert not stream.finished and all('data-live="1"' in d["text/html"] for d, _, _ in publisher.sent)
    server.task_states[8] = "released"
    while not stream.finished and time.monotonic() < deadline:
        stream.tick(server)
    assert stream.finished and 'data-live="0"' in publisher.sent[-1][0]["text/html"]
    assert task_stream.unfinished(server, [(0, 10), (20, 21)]) == 1


def test_a_live_trace_keeps_the_tasks_that_ended_before_the_client_heard_back():
    """The submission's time is when the client heard back from the server: on a loaded machine
    a short task of the run may have started and ended already. The run's own tasks set the start."""
    from treadle.widgets import task_stream
    import time
    start = int(time.time() * 1e6) - 3_000_000
    data = short_after_long(start)             # tasks 0-8 from `start`, the const (9) just before
    heard_back = start + 1_300_000             # after every square ended
    assert gantt.TraceView(data, window=(heard_back, None)).task_count == 0
    server, publisher = FakeServer(data), FakePublisher()
    server.task_states = {i: "finished" for i in range(10)}
    stream = task_stream.LiveTrace(publisher, "shown-1", heard_back, "keep", interval=0, ranges=[(0, 10)])
    deadline = time.monotonic() + 10
    while not stream.finished and time.monotonic() < deadline:
        stream.tick(server)
    assert 'data-bars="10"' in publisher.sent[-1][0]["text/html"]
    assert task_stream.run_start(data, [(0, 5)], heard_back) == start - 1000
    assert task_stream.run_start(data, [(20, 30)], heard_back) == heard_back   # not ours: not moved
