"""%treadle trace draws the run of the last cell that submitted: every task that cell made,
however the native client batched them. The first call of a cell goes at once and the others
from the flush timer, a few ms later: when the cell ends first (it does not wait) and the next
cell already runs, that batch is still the submitting cell's plan, not the next cell's."""

from conftest import errors, results

DEFINE = """\
%treadle workers 2
import time
import treadle

@treadle.task
def inv(x):
    return 1 / x
"""


def test_the_last_run_is_every_task_of_the_cell(any_kernel):
    k = any_kernel
    reply, outputs, _ = k.run(DEFINE, timeout=60)
    assert reply["status"] == "ok" and not errors(outputs), outputs
    reply, outputs, _ = k.run("fs = [inv(i) for i in range(0, 5)]", timeout=60)   # inv(0) fails; no wait here
    assert reply["status"] == "ok" and not errors(outputs), outputs
    reply, outputs, _ = k.run("while not all(f.done() for f in fs):\n    time.sleep(0.01)", timeout=60)
    assert reply["status"] == "ok" and not errors(outputs), outputs
    reply, outputs, _ = k.run("%treadle trace", timeout=60)
    assert reply["status"] == "ok" and not errors(outputs), outputs
    summary = results(outputs)[-1]["text/plain"]
    assert summary.startswith("trace of the last run: 5 tasks (1 failed)"), summary
