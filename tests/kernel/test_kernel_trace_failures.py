"""Failed tasks in the trace, as a notebook user gets it (the treadle kernel, and ipykernel with
%load_ext treadle): a task that raised, or whose Python process was killed, has its bar, marked
failed with its error, counted in %treadle trace's summary, in the Perfetto export and in the
HTML report."""

import json

from conftest import results, text

TASKS = r"""
import os, signal, treadle

@treadle.task(label="step")
def step(x):
    if x == 1:
        raise ValueError("bad step %d" % x)
    return x

@treadle.task(label="crash")
def crash():
    os.kill(os.getpid(), signal.SIGKILL)

parts = [step(i) for i in range(3)] + [crash()]
for p in parts:   # every task ended
    try:
        p.result()
    except Exception:
        pass
"""

CHECK = r"""
import json
from treadle import report, trace as tr
from treadle.core.lineage import FUNCTION_TYPES   # loading a function: not a step of the run
events = [e for e in tr.events(treadle.default_client())["events"]
          if e["kind"] == "task" and e["type"] not in FUNCTION_TYPES]
doc = tr.chrome_trace({"events": events, "workers": []})
slices = [e for e in doc["traceEvents"] if e.get("ph") == "X" and e.get("args", {}).get("failed")]
page = report.render(events)
print(json.dumps({"failed": sorted((e["label"], e.get("error", "")) for e in events if e.get("failed")),
                  "tasks": len(events), "slices": sorted(s["name"] for s in slices),
                  "problems": tr.validate(doc), "report": "4 tasks (2 failed)" in page and "failed: ValueError: bad step 1" in page}))
"""


def test_failed_tasks_have_their_bars(any_kernel):
    reply, outputs, _ = any_kernel.run("%treadle workers 1 --cpus 1", timeout=60)
    assert reply["status"] == "ok", outputs
    reply, outputs, _ = any_kernel.run(TASKS, timeout=60)
    assert reply["status"] == "ok", outputs
    reply, outputs, _ = any_kernel.run("%treadle trace", timeout=60)
    assert reply["status"] == "ok", outputs
    summaries = [r["text/plain"] for r in results(outputs)]
    assert summaries and "4 tasks (2 failed)" in summaries[-1], summaries
    html_text = results(outputs)[-1]["text/html"]
    assert "✗ failed" in html_text and "bad step 1" in html_text, html_text[:2000]
    reply, outputs, _ = any_kernel.run(CHECK, timeout=60)
    assert reply["status"] == "ok", outputs
    got = json.loads(text(outputs).strip().splitlines()[-1])
    assert got["tasks"] == 4, got
    (crash, crash_error), (step, step_error) = got["failed"]
    assert (crash, step) == ("crash", "step"), got
    assert step_error == "ValueError: bad step 1", got
    assert "killed by signal 9" in crash_error, got
    assert got["slices"] == ["crash (failed)", "step (failed)"], got
    assert got["problems"] == [] and got["report"], got
