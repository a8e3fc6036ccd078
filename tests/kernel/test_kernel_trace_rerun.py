"""%treadle trace after a worker was lost mid-run counts tasks, not runs (the treadle kernel, 2
local workers, one killed with SIGKILL): a task whose result was lost with the worker, still held
by its future, ran again, and has a bar per attempt; the head says "30 tasks (1 failed, N run
again after worker W was lost)" for 30 calls, the earlier attempts are drawn pale under "↻ earlier
attempt" and say "attempt 1 of 2", and the HTML report and the Perfetto export agree."""

import json
import re

from conftest import errors, results, text

RUN = r"""
import json, os, signal, tempfile, time, treadle
client = treadle.default_client()
gates = tempfile.mkdtemp()

def step(i, gate):
    import os, time
    while gate and not os.path.exists(gate):
        time.sleep(0.01)
    if i == 7:
        raise ValueError("bad step 7")
    return i

def all_running(futures):
    while client.core.states([f.task_id for f in futures]) != ["running"] * len(futures):
        time.sleep(0.05)

# 20 calls, the first two on each worker (held there by a gate), then 10 more: both running when
# one worker is killed. The results the killed worker made are still held: they are made again.
first = [client.submit(step, i, os.path.join(gates, "first") if i < 2 else None) for i in range(20)]
all_running(first[:2])
open(os.path.join(gates, "first"), "w").close()
treadle.wait([f for i, f in enumerate(first) if i != 7])
second = [client.submit(step, i, os.path.join(gates, "second")) for i in range(20, 30)]
all_running(second[:2])
victim = client.status()["workers"][0]
os.kill(int(victim["name"].rsplit(":", 1)[1]), signal.SIGKILL)
open(os.path.join(gates, "second"), "w").close()
assert [f.result() for f in first + second if f is not first[7]] == [i for i in range(30) if i != 7]
while not treadle.trace.events(client, kinds=["worker_lost"])["events"]:
    time.sleep(0.05)
print("killed", victim["name"])
"""

CHECK = r"""
from treadle import report, trace as tr
from treadle.core.lineage import FUNCTION_TYPES
events = [e for e in tr.events(client)["events"]
          if e["kind"] != "task" or e["type"] not in FUNCTION_TYPES]
bars = [e for e in events if e["kind"] == "task"]
runs = {}
for e in bars:
    runs.setdefault(e["task"], []).append(e["worker"])
doc = tr.chrome_trace({"events": events, "workers": []})
attempts = sorted(s["args"]["attempt"] for s in doc["traceEvents"] if s.get("ph") == "X" and "attempt" in s.get("args", {}))
head = re.search(r"<p>(.*?) on \d+ workers", report.render(events)).group(1)
print(json.dumps({"bars": len(bars), "tasks": len(runs), "again": sum(len(w) > 1 for w in runs.values()),
                  "attempts": attempts, "report": head, "problems": tr.validate(doc)}))
"""


def test_a_task_run_again_is_one_task_with_its_attempts(kernel):
    reply, outputs, _ = kernel.run("%treadle workers 2 --cpus 1", timeout=60)
    assert reply["status"] == "ok", outputs
    reply, outputs, _ = kernel.run(RUN, timeout=120)
    assert reply["status"] == "ok" and not errors(outputs), outputs
    killed = re.search(r"^killed (\S+:\d+)$", text(outputs), re.M)
    assert killed, outputs
    killed = killed.group(1)
    reply, outputs, _ = kernel.run("import re\n" + CHECK, timeout=60)
    assert reply["status"] == "ok" and not errors(outputs), outputs
    got = json.loads(text(outputs).strip().splitlines()[-1])
    again = got["again"]
    assert got["tasks"] == 30 and again >= 1 and got["bars"] == 30 + again, got   # the run: what the trace shows
    said = "30 tasks (1 failed, {} run again after worker {} was lost)".format(again, killed)
    assert got["report"] == said, got
    assert got["attempts"] == sorted([1, 2] * again) and got["problems"] == [], got

    reply, outputs, _ = kernel.run("%treadle trace", timeout=60)
    assert reply["status"] == "ok" and not errors(outputs), outputs
    bundle = results(outputs)[-1]
    assert bundle["text/plain"].startswith("trace of the last run: " + said + " on "), bundle["text/plain"]
    assert ", 1 worker lost" in bundle["text/plain"], bundle["text/plain"]
    page = bundle["text/html"]
    assert 'data-tasks="30"' in page and 'data-run-again="{}"'.format(again) in page, page[:1500]
    assert 'data-bars="{}"'.format(30 + again) in page, page[:1500]
    assert "↻ earlier attempt" in page, page[:3000]   # the legend names the pale bars
    assert "attempt 1 of 2: its result was lost with worker {}".format(killed) in page
    assert "attempt 2 of 2" in page
