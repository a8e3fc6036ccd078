"""Recording what ran where and when, its Chrome/Perfetto export and the HTML report."""

import json
import os
import subprocess
import sys

from treadle import trace as T
from treadle.loom.client import tasks


def _chrome_trace_is_valid(doc):
    assert isinstance(doc["traceEvents"], list) and doc["traceEvents"]
    flows = {}
    for e in doc["traceEvents"]:
        for key in ("ph", "ts", "pid", "tid"):
            assert key in e, (key, e)
        assert isinstance(e["ts"], int) and isinstance(e["pid"], int) and isinstance(e["tid"], int)
        if e["ph"] == "X":
            assert e["dur"] >= 0 and e["name"]
        if e["ph"] in ("s", "f"):
            flows.setdefault(e["id"], []).append(e["ph"])
        assert e["ph"] in ("X", "M", "s", "f", "i"), e
    for ident, phases in flows.items():
        assert sorted(phases) == ["f", "s"], (ident, phases)  # every arrow has both ends


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
    _chrome_trace_is_valid(T.chrome_trace(trace))


def test_set_trace_and_report(make_cluster, make_client, tmp_path):
    cluster = make_cluster(workers=2, cpus=1)
    client = make_client(cluster.address)
    folder = tmp_path / "mytrace"
    client.set_trace(str(folder))
    work = [tasks.const("x" * i) for i in range(30)]
    for t in work:
        t.label = "Init"
    total = tasks.size(tasks.merge(work))
    total.label = "Compute: 1"
    assert client.submit_one(total).gather() == sum(range(30)).to_bytes(8, "little")

    lines = T.read_jsonl(str(folder / "server.trace.jsonl"))
    assert sum(1 for e in lines if e["kind"] == "task") == 32  # 30 consts, the merge, the size
    done = subprocess.run([sys.executable, "-m", "treadle.report", str(folder)], capture_output=True, text=True,
                          timeout=60, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    page = (folder / "output.html").read_text()
    assert "Init" in page and "Compute" in page
    assert page.count("<rect") == 32
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
