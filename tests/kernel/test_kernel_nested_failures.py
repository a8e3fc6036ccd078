"""A failure that came through nested tasks (a task raised again what a task it waited on
raised) reads in ``%treadle why`` and ``%treadle trace`` as the exception's own message does
(docs/kernel.md): the exception's line once, not "ValueError: Task id=6 (bad) failed:
ValueError: ..." piled up, then one "(on worker W, task N)" line per task of the chain; a task
that failed for its input says so first. Both kernels."""

import json
import re

from conftest import text

SETUP = """\
%treadle workers 2 --cpus 1
import json, treadle

def bad(x):
    if x == 0:
        raise ValueError('hit zero')
    return treadle.submit(bad, x - 1).result()

def plus(a):
    return a + 1

f = treadle.submit(bad, 2)
g = treadle.submit(plus, f)
try:
    g.result()
except ValueError as e:
    message = str(e)
try:
    f.result()
except ValueError as e:
    message = str(e)
"""


def failed_block(told):
    """The lines of a story's "failed:" block, without their indent."""
    block = told.split("  failed: ", 1)[1].split("\n\n")[0]
    return [line.strip() for line in block.splitlines()]


def test_why_and_trace_show_a_nested_failure_once(any_kernel):
    reply, outputs, _ = any_kernel.run(SETUP, timeout=60)
    assert reply["status"] == "ok", outputs
    reply, outputs, _ = any_kernel.run("print(f.task_id, g.task_id)\nprint(json.dumps(message))")
    assert reply["status"] == "ok", outputs
    ids, message = text(outputs).split("\n", 1)
    f_id, g_id = ids.split()
    # What the raised error says after its "Task id=N (bad) failed: ", the task's own heading.
    own = re.sub(r"^Task id=\d+ \(bad\) failed: ", "", json.loads(message)).splitlines()
    assert own[0] == "ValueError: hit zero" and own[-1].endswith(", task {})".format(f_id)), own
    assert len(own) == 4 and all(re.fullmatch(r"\(on worker .+, task \d+\)", w) for w in own[1:]), own
    reply, outputs, _ = any_kernel.run("%treadle why f")
    assert reply["status"] == "ok", outputs
    told = failed_block(text(outputs))
    assert "Task id=" not in "\n".join(told), told
    assert told[0] == "Traceback (most recent call last):" and told[-4:] == own, told
    reply, outputs, _ = any_kernel.run("%treadle why g")
    assert reply["status"] == "ok", outputs
    told = failed_block(text(outputs))
    assert told[0].startswith("input task {} (bad) failed: Traceback".format(f_id)) and told[-4:] == own, told
    # The trace's bars: each failed bad's error is the exception's line.
    reply, outputs, _ = any_kernel.run(
        "from treadle import trace as tr\n"
        "print(json.dumps(sorted({e.get('error', '') for e in tr.events(treadle.default_client())['events']\n"
        "                         if e['kind'] == 'task' and e.get('failed')})))")
    assert reply["status"] == "ok", outputs
    assert json.loads(text(outputs)) == ["ValueError: hit zero"], outputs


def test_why_names_a_cells_frames_as_the_cells_error_does(any_kernel):
    """The task's frames in ``%treadle why`` name the cell that defined the function as the
    cell's own error does ("Cell In [n], line k"), not the file the kernel compiled it to."""
    reply, outputs, _ = any_kernel.run("%treadle workers 1 --cpus 1", timeout=60)
    assert reply["status"] == "ok", outputs
    reply, outputs, _ = any_kernel.run("import treadle\n\ndef bad(x):\n    raise ValueError('hit zero')\n")
    assert reply["status"] == "ok", outputs
    defined_in = reply["execution_count"]
    _, messages = any_kernel.collect("f = treadle.submit(bad, 0)\nf.result()", timeout=60)
    [error] = [m["content"] for m in messages if m["msg_type"] == "error"]
    shown = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"]))
    cell_line = "Cell In [{}], line 4, in bad".format(defined_in)
    assert re.search(re.escape(cell_line).replace(r"In\ ", "In ?"), shown), shown
    reply, outputs, _ = any_kernel.run("%treadle why f")
    assert reply["status"] == "ok", outputs
    told = failed_block(text(outputs))
    assert told[:2] == ["Traceback (most recent call last):", cell_line] and told[-2] == "ValueError: hit zero", told
    assert "xpython_" not in text(outputs) and "ipykernel_" not in text(outputs), told


ONE_LEVEL = """\
%treadle workers 2 --cpus 1
import json, treadle

def inner(x):
    raise ValueError('boom')

def outer(x):
    return treadle.submit(inner, x).result()

f = treadle.submit(outer, 1)
try:
    f.result()
except ValueError as e:
    message = str(e)
print(json.dumps(message))
"""


def test_why_names_the_inner_task_of_a_one_level_nesting(any_kernel):
    """A task that raised again what the one task it waited on raised: the inner task's line in
    ``%treadle why`` names its task too, as the raised error's message does, not only the
    outer task's line."""
    reply, outputs, _ = any_kernel.run(ONE_LEVEL, timeout=60)
    assert reply["status"] == "ok", outputs
    own = re.sub(r"^Task id=\d+ \(outer\) failed: ", "", json.loads(text(outputs).splitlines()[-1])).splitlines()
    assert own[0] == "ValueError: boom" and len(own) == 3, own
    assert all(re.fullmatch(r"\(on worker .+, task \d+\)", w) for w in own[1:]), own
    reply, outputs, _ = any_kernel.run("%treadle why f")
    assert reply["status"] == "ok", outputs
    told = failed_block(text(outputs))
    assert told[-3:] == own, told
