"""The task stream through real kernels (the treadle kernel, and ipykernel with %load_ext
treadle): ``%treadle trace --live`` shows the trace of the run going on, which grows in place
(update_display_data with the display's id, on the kernel's own channel) while tasks end, and
ends as the trace of the whole run; ``%treadle trace`` alone shows the last run, ``--all`` the
whole session."""

import re

from conftest import errors, went_idle

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


def root_attrs(html):
    tag = re.search(r'<div class="treadle-trace"[^>]*>', html)
    assert tag is not None, html[:500]
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag.group(0)))


def traces(messages):
    """(msg_type, display id, root attributes) of each trace display, in order."""
    out = []
    for m in messages:
        if m["msg_type"] in ("display_data", "update_display_data"):
            html = m["content"]["data"].get("text/html", "")
            if 'class="treadle-trace"' in html:
                out.append((m["msg_type"], m["content"].get("transient", {}).get("display_id"), root_attrs(html)))
    return out


def test_the_trace_grows_while_the_run_goes_on(any_kernel, tmp_path):
    k = any_kernel
    gate = tmp_path / "open"
    reply, outputs, _ = k.run(SETUP)
    assert reply["status"] == "ok" and not errors(outputs), outputs
    code = ("futures = [quick(i) for i in range(4)] + [gated(i, {!r}) for i in range(4)]\n"
            "%treadle trace --live").format(str(gate))

    def some_but_not_all(messages):   # an update drawn during the run, with the quick ones
        return any(t[0] == "update_display_data" and t[2]["data-live"] == "1" and
                   1 <= int(t[2]["data-bars"]) < 8 for t in traces(messages))
    msg_id = k.kc.execute(code, stop_on_error=False)
    messages = []
    try:
        k.follow(msg_id, until=some_but_not_all, timeout=60, messages=messages)
    except TimeoutError:
        _, outputs, _ = k.run("%treadle status", stop_on_error=False)
        raise AssertionError("no update during the run: {}\n{}".format(traces(messages), outputs)) from None
    assert not gate.exists()
    gate.write_text("go")

    def final(messages):
        return any(t[0] == "update_display_data" and t[2]["data-live"] == "0" for t in traces(messages))
    messages = k.follow(msg_id, until=lambda m: final(m) and went_idle(m), timeout=60, messages=messages)
    shown = traces(messages)
    first, updates = shown[0], shown[1:]
    assert first[0] == "display_data" and first[1] and first[2]["data-live"] == "1", first
    assert updates and all(u[0] == "update_display_data" and u[1] == first[1] for u in updates), shown
    assert {u[2]["id"] for u in shown} == {first[2]["id"]}        # one element, redrawn in place
    bars = [int(u[2]["data-bars"]) for u in shown]
    assert bars == sorted(bars), bars                              # it only grows
    last = updates[-1][2]
    assert last["data-live"] == "0" and int(last["data-bars"]) == 8, last   # the whole run, and no more
    assert all(u[2]["data-live"] == "1" for u in shown[:-1])
    reply, outputs, _ = k.run("sorted(f.result() for f in futures)")
    assert reply["status"] == "ok" and not errors(outputs), outputs


def test_the_last_run_by_default_and_the_whole_session_on_request(any_kernel, tmp_path):
    k = any_kernel
    reply, outputs, _ = k.run(SETUP.replace("%treadle workers 2", "%treadle workers 1"))
    assert reply["status"] == "ok", outputs
    gate = tmp_path / "open"
    gate.write_text("go")
    reply, outputs, _ = k.run("first = [quick(i) for i in range(6)]\ntreadle.gather(first)")
    assert reply["status"] == "ok" and not errors(outputs), outputs
    reply, outputs, _ = k.run("second = [gated(i, {!r}) for i in range(2)]\ntreadle.gather(second)".format(str(gate)))
    assert reply["status"] == "ok" and not errors(outputs), outputs
    for line, bars, title in (("%treadle trace", 2, "trace of the last run"),
                              ("%treadle trace --all", 8, "trace of the whole session"),
                              ("%treadle trace --last", 2, "trace of the last run"),
                              ("%treadle trace --live", 2, "trace of the last run")):   # nothing runs
        _, messages = k.collect(line)
        shown = traces(messages)
        assert len(shown) == 1 and shown[0][2]["data-live"] == "0", (line, shown)
        assert int(shown[0][2]["data-bars"]) == bars, (line, shown)
        summary = [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "display_data"][0]
        assert summary.startswith(title + ":"), (line, summary)
