"""Recording what ran where and when, its Chrome/Perfetto export and the HTML report."""

import collections
import json
import os
import re
import subprocess
import sys
import time

from tests.conftest import wait_until
from treadle import trace as T
from treadle.loom.client import tasks


def _chrome_trace_is_valid(doc):
    assert doc["traceEvents"], "an empty trace"
    problems = T.validate(doc)
    assert problems == [], problems


def test_ring_records_tasks_lanes_and_transfers(make_cluster, make_client):
    cluster = make_cluster(workers=2, cpus=1)
    client = make_client(cluster.address)

    @tasks.py_task(label="square: python")
    def square(a):
        return str(int(a.read()) ** 2)

    parts = [square(tasks.const(str(i))) for i in range(12)]
    slow = tasks.sleep(0.01, tasks.const("z"))
    result = client.submit_one(tasks.merge(parts + [slow], delimiter=","))
    assert result.gather() == b",".join(str(i * i).encode() for i in range(12)) + b",z"

    trace = client.trace()
    by_label = {}
    for e in trace["events"]:
        if e["kind"] == "task":
            by_label.setdefault(e["label"] or e["type"], []).append(e)
            assert e["end_us"] >= e["start_us"]
    assert len(by_label["square: python"]) == 12
    assert all(e["lane"] >= 2 for e in by_label["square: python"])          # Python executors
    assert all(e["lane"] == 0 for e in by_label["loom/data/const"])          # the event loop
    assert [e["lane"] for e in by_label["loom/base/sleep"]] == [1]           # a thread
    worker_ids = {w["id"] for w in trace["workers"]}
    assert {e["worker"] for es in by_label.values() for e in es} <= worker_ids
    transfers = [e for e in trace["events"] if e["kind"] == "transfer"]
    assert transfers, "the merge needed inputs from both workers"
    assert all(e["from"] in worker_ids and e["from"] != e["worker"] and e["size"] > 0 for e in transfers)

    # Every task that ran was placed by a decision with a reason, before it started.
    decisions = {e["task"]: e for e in trace["events"] if e["kind"] == "decision"}
    reasons = {"chained", "locality", "with_consumer", "least_loaded", "only_fit", "only_worker", "stolen"}
    for es in by_label.values():
        for e in es:
            d = decisions[e["task"]]
            assert d["reason"] in reasons and d["why"] and d["worker"] == e["worker"]
            assert d["cause"] == "first"
            if d["reason"] == "chained":
                assert "ready_us" not in e
            else:
                assert d["ready_us"] == e["ready_us"] <= d["start_us"]
                assert e["ready_us"] <= e["start_us"] + 1000  # one host: the clocks agree
    assert decisions[result.task_id]["reason"] == "locality"  # the merge: its inputs are on both workers
    assert "input bytes there" in decisions[result.task_id]["why"]

    doc = T.chrome_trace(trace)
    _chrome_trace_is_valid(doc)
    slices = [e for e in doc["traceEvents"] if e["ph"] == "X" and e["cat"] != "transfer"]
    assert len(slices) == sum(len(es) for es in by_label.values())
    assert all("placed" in e["args"] and "reason" in e["args"] for e in slices)
    assert any("wait_us" in e["args"] and e["args"]["wait_us"] >= 0 for e in slices)


def test_set_trace_and_report(make_cluster, make_client, tmp_path):
    cluster = make_cluster(workers=2, cpus=1)
    client = make_client(cluster.address)
    folder = tmp_path / "mytrace"
    client.set_trace(str(folder))
    work = [tasks.const("x" * i) for i in range(30)]
    for t in work:
        t.label = "Init"
    # Two halves: the constants of one merge are made where it runs (beside their consumer), so
    # the halves' merges run on different workers and the last merge fetches one of them.
    total = tasks.size(tasks.merge([tasks.merge(work[:15]), tasks.merge(work[15:])]))
    total.label = "Compute: 1"
    assert client.submit_one(total).gather() == sum(range(30)).to_bytes(8, "little")

    @tasks.py_task(label="spin: busy")
    def spin(a):
        end = time.time() + 1.2
        while time.time() < end:
            pass
        return a.read()

    assert client.submit_one(spin(tasks.const("s"))).gather() == b"s"
    client.set_trace("")  # stop: what was recorded is complete in the file
    lines = T.read_jsonl(str(folder / "server.trace.jsonl"))
    assert sum(1 for e in lines if e["kind"] == "task") == 34 + 3  # 30 consts, 3 merges, the size; spin
    assert sum(1 for e in lines if e["kind"] == "decision") == 37
    assert any(e["kind"] == "sample" for e in lines)
    done = subprocess.run([sys.executable, "-m", "treadle.report", str(folder)], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    page = (folder / "output.html").read_text()
    assert "Init" in page and "Compute" in page
    assert page.count('<rect class="task"') == 37
    for section in ('id="progress"', 'id="scheduling"', 'id="transfers"', 'id="resources"'):
        assert section in page
    assert "37 tasks on 2 workers" in page
    # Progress: one line per label group (Init, Compute, the unlabelled ones, spin), with counts.
    assert page.count('<polyline class="series"') >= 4 + 2 + 4  # progress, cpu, memory (RSS + store)
    assert "Init (30)" in page
    # Scheduling: the queue waits of Init, and decisions counted by reason.
    init_row = re.search(r"Init</td><td>(\d+)</td><td>(\d+)</td><td>([\d.]+)</td><td>([\d.]+)</td>"
                         r"<td>([\d.]+)</td><td>([\d.]+)</td>", page)
    assert init_row, "no scheduling row for Init"
    queued, chained, mean, p50, p95, high = init_row.groups()
    assert int(queued) + int(chained) == 30 and int(queued) > 0
    assert 0 <= float(p50) <= float(p95) <= float(high)
    reasons = dict(re.findall(r"<tr><td>(\w+)</td><td>(\d+)</td></tr>", page))
    assert sum(int(n) for r, n in reasons.items() if r in ("least_loaded", "locality", "chained", "with_consumer",
                                                             "only_fit", "only_worker")) == 37
    # Transfers: the last merge fetched a half from the other worker.
    moved = re.search(r"(\d+) objects moved between workers, (\d+) bytes", page)
    assert moved and int(moved.group(1)) > 0 and int(moved.group(2)) > 0
    assert "worker 0 &rarr; worker 1" in page or "worker 1 &rarr; worker 0" in page
    # Resources: the busy task shows in the max cpu of a worker.
    max_cpu = [float(v) for v in re.findall(r"<td>[\d.]+</td><td>([\d.]+)</td><td>[\d.]+</td><td>[\d.]+</td></tr>",
                                             page)]
    assert max_cpu and max(max_cpu) > 30, max_cpu
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no network assets
    _chrome_trace_is_valid(json.loads((folder / "trace.json").read_text()))


def test_report_of_a_folder_without_a_trace(tmp_path):
    done = subprocess.run([sys.executable, "-m", "treadle.report", str(tmp_path)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert "no trace" in done.stderr


def test_label_groups_follow_the_seed_rule():
    assert T.label_group("Compute: 1") == T.label_group("Compute: 2") == "Compute"
    assert T.label_group("Init") == "Init"
    assert T.label_group("prep/step1") == T.label_group("prep/step2") == "prep"
    assert T.label_group("") == ""


def _wait_for_state(client, future, wanted, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.states([future])[0]
        if state == wanted:
            return
        time.sleep(0.02)
    raise AssertionError("{} never became {} (last: {})".format(future, wanted, state))


def test_states_of_tasks(make_cluster, make_client):
    cluster = make_cluster(workers=1, cpus=1)
    client = make_client(cluster.address)
    slow = client.submit_one(tasks.sleep(1.0, tasks.const("z")))
    _wait_for_state(client, slow, "running")
    waiting = client.submit_one(tasks.merge([slow, tasks.const("a")]))
    conn = client.connection
    running, consumer, unknown = conn.states([slow.task_id, waiting.task_id, 10 ** 12])
    assert (running, unknown) == ("running", "unknown")
    assert consumer in ("waiting", "assigned")  # assigned: chained behind the sleep on its worker
    assert client.states([]) == []
    _wait_for_state(client, waiting, "finished")
    assert client.states([slow, waiting.task_id]) == ["finished", "finished"]
    ids = list(range(waiting.task_id + 1))
    assert len(conn.states(ids)) == len(ids)
    assert set(conn.states(ids)) <= {"finished", "released"}


def test_workers_report_cpu_and_memory_samples(make_cluster, make_client, tmp_path):
    cluster = make_cluster(workers=2, cpus=1)
    client = make_client(cluster.address)
    stop = str(tmp_path / "stop")

    @tasks.py_task(label="spin")
    def spin(a):
        end = time.time() + 60
        while time.time() < end and not os.path.exists(stop):   # busy until the test has its samples
            pass
        return a.read()

    busy = client.submit_one(spin(tasks.const("x")))
    _wait_for_state(client, busy, "running")
    running_since_us = time.time() * 1e6
    running_on = next(e["worker"] for e in client.trace()["events"]
                      if e["kind"] == "decision" and e["task"] == busy.task_id)

    def during():
        # Samples over whole periods of the busy loop (the idle worker's executor may still have
        # been starting before: executors start with their worker).
        events = T.events(client, kinds=["sample"])["events"]
        late = [e for e in events if e["start_us"] >= running_since_us + 600_000]
        per_worker = collections.Counter(e["worker"] for e in late)
        return len(per_worker) == 2 and min(per_worker.values()) >= 3 and late

    wait_until(during, timeout=60, what="three samples of each worker while the task spins")
    status = client.status()
    samples = T.events(client, kinds=["sample"])
    open(stop, "w").close()
    assert busy.gather() == b"x"

    events = samples["events"]
    assert events and all(e["kind"] == "sample" for e in events)
    worker_ids = {w["id"] for w in samples["workers"]}
    assert {e["worker"] for e in events} == worker_ids  # every worker reports
    for e in events:
        assert e["rss"] > 1_000_000 and e["store"] >= 0 and e["spilled"] == 0
        assert e["cpu"] >= 0 and e["start_us"] == e["end_us"]
    late = [e for e in events if e["start_us"] >= running_since_us + 600_000]
    busy_samples = [e["cpu"] for e in late if e["worker"] == running_on]
    idle_samples = [e["cpu"] for e in late if e["worker"] != running_on]
    # The Python busy loop, in its executor, counts; a loaded machine gives it less than a cpu,
    # but always far more than the idle worker gets.
    assert sum(busy_samples) > 5 and sum(busy_samples) > 3 * sum(idle_samples), (busy_samples, idle_samples)
    assert max(idle_samples) < 30, idle_samples
    # The executors' memory counts: each worker has one (the worker alone is ~10 MB).
    for worker in worker_ids:
        assert max(e["rss"] for e in events if e["worker"] == worker) > 15_000_000, events
    # The latest sample is in the status reply too.
    by_id = {w["id"]: w for w in status["workers"]}
    assert by_id[running_on]["cpu"] > 0 and by_id[running_on]["rss"] > 1_000_000
    assert "store" in by_id[running_on] and "sampled_us" in by_id[running_on]


def test_every_worker_sends_samples(make_cluster, make_client):
    cluster = make_cluster(workers=2, cpus=1)
    client = make_client(cluster.address)
    wait_until(lambda: len({e["worker"] for e in T.events(client, kinds=["sample"])["events"]}) == 2,
               timeout=30, what="a sample of each worker")


def test_validate_finds_broken_traces():
    good = {"traceEvents": [
        {"ph": "M", "name": "process_name", "pid": 1, "tid": 0, "ts": 0, "args": {"name": "w"}},
        {"ph": "M", "name": "thread_name", "pid": 1, "tid": 0, "ts": 0, "args": {"name": "loop"}},
        {"ph": "B", "name": "a", "pid": 1, "tid": 0, "ts": 5},
        {"ph": "E", "pid": 1, "tid": 0, "ts": 7},
        {"ph": "X", "name": "b", "pid": 1, "tid": 0, "ts": 8, "dur": 2},
        {"ph": "C", "name": "cpu %", "pid": 1, "tid": 0, "ts": 8, "args": {"cpu": 50.0}},
        {"ph": "s", "name": "t", "id": 1, "pid": 1, "tid": 0, "ts": 8},
        {"ph": "f", "name": "t", "id": 1, "bp": "e", "pid": 1, "tid": 0, "ts": 9},
    ]}
    assert T.validate(good) == []

    def broken(change):
        doc = json.loads(json.dumps(good))
        change(doc["traceEvents"])
        return T.validate(doc)

    assert any("missing ts" in p for p in broken(lambda es: es[4].pop("ts")))
    assert any("never ends" in p for p in broken(lambda es: es.pop(3)))
    assert any("no begin" in p for p in broken(lambda es: es.pop(2)))
    assert any("ends before it begins" in p for p in broken(lambda es: es[3].update(ts=1)))
    assert any("dur" in p for p in broken(lambda es: es[4].update(dur=-1)))
    assert any("flow" in p for p in broken(lambda es: es.pop(7)))
    assert any("counter" in p for p in broken(lambda es: es[5].update(args={"cpu": "high"})))
    assert any("no process_name" in p for p in broken(lambda es: es.pop(0)))
    assert any("no thread_name" in p for p in broken(lambda es: es.pop(1)))
    assert any("integers" in p for p in broken(lambda es: es[4].update(pid="1")))
    assert T.validate([]) != []
