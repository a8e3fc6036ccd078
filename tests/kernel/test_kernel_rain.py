"""Rain's objects in the treadle kernel (treadle.rain.client): a session drawn with
treadle.show ends with each task's final state, a session's wait shows a progress line with the
scheduler's counts, names "a/b/c" group by "a", and %treadle status counts each Rain client's
sessions. A failing task among healthy ones, on 2 workers of the kernel's server."""

import re

from conftest import errors, results, text, went_idle
from test_kernel_widgets import node_states, root_attrs

SETUP = """\
%treadle workers 2
import time
import treadle
from treadle.core.embedded_server import embedded_address
from treadle.rain.client import Client, TaskException, blob, remote, tasks

client = Client(*embedded_address())

@remote()
def square(ctx, x):
    time.sleep(0.3)
    n = int(x.get_bytes())
    return str(n * n)

@remote()
def broken(ctx, *parts):
    raise ValueError("broken on purpose")
"""

# The failing task takes every healthy task's output: it fails once they all finished, so the
# line's counts do not depend on timing. The wait lasts over half a second: it shows a line.
BUILD = """\
session = client.new_session(name="acceptance", default=True)
numbers = [blob(str(i)) for i in range(8)]
squares = [square(n) for n in numbers]
total = tasks.Concat(squares, name="main/squares/total")
failing = broken(total, *squares)
total.output.keep()
session.submit()
treadle.show(session)
try:
    session.wait_all()
except TaskException as error:
    print("failed:", str(error).splitlines()[0])
"""

OTHER = """\
with client.new_session(name="other") as other:
    hello = tasks.Concat((blob("Hello "), tasks.Sleep(blob("world"), 0.1)), name="main/hello")
    hello.output.keep()
    other.submit()
    print(hello.output.fetch().get_bytes())
    kept_open = other
"""


def displays(messages, cls):
    return [m for m in messages if m["msg_type"] in ("display_data", "update_display_data")
            and 'class="{}"'.format(cls) in m["content"]["data"].get("text/html", "")]


def test_a_rain_session_with_a_failing_task_in_the_widgets(kernel):
    reply, outputs, _ = kernel.run(SETUP)
    assert reply["status"] == "ok" and not errors(outputs), outputs

    def graph_final(messages):
        shown = displays(messages, "treadle-graph")
        return went_idle(messages) and shown and "failed" in node_states(shown[-1]["content"]["data"]["text/html"])
    _, messages = kernel.collect(BUILD, until=graph_final, timeout=60)
    assert "failed: " in "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream"), messages
    graph = displays(messages, "treadle-graph")
    assert graph[0]["msg_type"] == "display_data", [m["msg_type"] for m in graph]
    display_id = graph[0]["content"]["transient"]["display_id"]
    # the graph: its 18 tasks (8 blobs, 8 squares, total, failing; the functions sent with the
    # calls are not steps), each in its final state
    updates = [m for m in graph
               if m["content"].get("transient", {}).get("display_id") == display_id]
    last = updates[-1]["content"]["data"]
    states = node_states(last["text/html"])
    assert len(states) == 18, states
    assert states.count("failed") == 1 and set(states) - {"failed"} <= {"finished", "released"}, states
    assert root_attrs(last["text/html"], "treadle-graph")["data-tasks"] == "18"
    # Rain's names group by their first part: "main/squares/total" is in group "main"
    assert re.search(r"\bmain 1\b", last["text/plain"]) and "square 8" in last["text/plain"], last["text/plain"]
    # the wait's progress line: the scheduler's counts, the failure among them; of the 10 tasks
    # (8 squares, total, failing), not of the 8 blobs, which are data to the user
    line = displays(messages, "treadle-progress")
    assert line, [m["msg_type"] for m in messages]
    html = line[-1]["content"]["data"]["text/html"]
    attrs = root_attrs(html, "treadle-progress")
    assert attrs["data-state"] == "failed", attrs
    assert (attrs["data-total"], attrs["data-done"], attrs["data-failed"]) == ("10", "9", "1"), attrs
    assert line[-1]["content"]["data"]["text/plain"].startswith("waiting for 10 tasks: 9/10 done, 1 failed in ")

    # another session carries on; status counts both
    reply, outputs, _ = kernel.run(OTHER + "other2 = client.new_session(name='open one')")
    assert reply["status"] == "ok" and "b'Hello world'" in text(outputs), outputs
    reply, outputs, _ = kernel.run("%treadle status")
    shown = results(outputs)
    assert shown, outputs
    status = shown[0]["text/plain"]
    assert re.search(r"Rain client 127\.0\.0\.1:\d+: 3 sessions \(1 open, 1 failed, 1 closed\)", status), status


SUBMIT = """\
%%treadle submit --name job
squares = [square(blob(str(i))) for i in range(4)]
total = tasks.Concat(squares, name="main/total")
total.output.keep()
total
"""


def test_treadle_submit_sends_a_rain_session_and_follows_it(kernel):
    """%%treadle submit with Rain's objects: the session sends what the cell built in it, one
    line follows those tasks to the end, and the name keeps the Rain task (its kept output is
    fetched as Rain does)."""
    reply, outputs, _ = kernel.run(SETUP + "job_session = client.new_session(name='job', default=True)")
    assert reply["status"] == "ok" and not errors(outputs), outputs
    _, messages = kernel.collect(SUBMIT, timeout=60)
    line = displays(messages, "treadle-progress")
    assert line, [m["msg_type"] for m in messages]
    assert {m["content"]["transient"]["display_id"] for m in line} == {line[0]["content"]["transient"]["display_id"]}
    attrs = root_attrs(line[-1]["content"]["data"]["text/html"], "treadle-progress")
    # 4 squares and the Concat (not the 4 blobs: data, not tasks)
    assert (attrs["data-state"], attrs["data-done"], attrs["data-total"], attrs["data-failed"]) == (
        "done", "5", "5", "0"), attrs
    reply, outputs, _ = kernel.run("print(job.done(), type(total).__name__, total.output.fetch().get_bytes())")
    assert text(outputs) == "True Task b'0149'\n", outputs
    reply, outputs, _ = kernel.run("%%treadle submit\nagain = tasks.Concat([total, blob('!')])", stop_on_error=False)
    assert reply["status"] == "ok" and not errors(outputs), outputs
