"""%treadle trace drawn while the last run still goes on: its head says how many of the run's
tasks are still to run, and once they ended it is redrawn as the whole run, sent again ahead of
the idle of the cell that waited for them, where nbclient keeps it (docs/widgets.md: "Which run",
"What a notebook keeps")."""

import re

from conftest import errors, results, went_idle

SETUP = """\
%treadle workers 2
import os, time
import treadle

@treadle.task(label="quick")
def quick(i):
    return i

@treadle.task(label="gated")
def gated(i, path):
    while not os.path.exists(path):     # held until the test opens the gate
        time.sleep(0.02)
    return i
"""


def trace_attrs(html):
    tag = re.search(r'<div class="treadle-trace"[^>]*>', html)
    assert tag is not None, html[:500]
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag.group(0)))


def test_a_trace_of_a_run_going_on_says_so_and_ends_whole(any_kernel, tmp_path):
    k = any_kernel
    gate = tmp_path / "open"
    reply, outputs, _ = k.run(SETUP, timeout=60)
    assert reply["status"] == "ok" and not errors(outputs), outputs
    code = ("quicks = [quick(i) for i in range(2)]\ngateds = [gated(i, {!r}) for i in range(2)]\n"
            "print(treadle.gather(quicks))").format(str(gate))
    reply, outputs, _ = k.run(code, timeout=60)
    assert reply["status"] == "ok" and not errors(outputs), outputs
    msg_id, messages = k.collect("%treadle trace", timeout=60)
    shown = [m for m in messages if m["msg_type"] == "display_data"]
    assert len(shown) == 1 and not [m for m in messages if m["msg_type"] == "error"], messages
    first = shown[0]["content"]
    display_id = first.get("transient", {}).get("display_id")
    summary = first["data"]["text/plain"]
    assert summary.startswith("trace of the last run: 2 tasks on "), summary
    assert summary.endswith("; 2 tasks still to run (redrawn when the run ends)"), summary
    assert trace_attrs(first["data"]["text/html"])["data-to-run"] == "2"
    assert display_id, first
    assert not gate.exists()
    gate.write_text("go")
    msg_id, messages = k.collect("print(treadle.gather(gateds))", until=went_idle, timeout=60)
    assert not [m for m in messages if m["msg_type"] == "error"], messages
    updates = [m["content"] for m in messages if m["msg_type"] == "update_display_data"
               and m["content"].get("transient", {}).get("display_id") == display_id]
    assert updates, [m["msg_type"] for m in messages]   # ahead of the idle of the cell that waited
    last = updates[-1]["data"]
    assert last["text/plain"].startswith("trace of the last run: 4 tasks on "), last["text/plain"]
    assert "still to run" not in last["text/plain"], last["text/plain"]
    attrs = trace_attrs(last["text/html"])
    assert (attrs["data-to-run"], attrs["data-bars"], attrs["data-live"]) == ("0", "4", "0"), attrs
    reply, outputs, _ = k.run("%treadle trace", timeout=60)   # drawn after the run: nothing still to run
    assert reply["status"] == "ok" and not errors(outputs), outputs
    assert results(outputs)[-1]["text/plain"].startswith("trace of the last run: 4 tasks on "), outputs
    assert "still to run" not in results(outputs)[-1]["text/plain"]
