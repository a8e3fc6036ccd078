"""The numbers a notebook shows come from the scheduler's states, at the moments that matter:
during a run (running means executing now; queued is its own count; status never shows
negative free cpus), after a failure (the failed count) and after a cancel (what the server
really cancelled). And the Client's rich repr. Through real kernels."""

import re

from conftest import errors, results, text, went_idle

SETUP = """\
%treadle workers 2 --cpus 1
import time
import treadle
from treadle.loom.client import tasks

def nap(x):
    time.sleep(0.3)
    return x
"""


def start(k):
    reply, outputs, _ = k.run(SETUP)
    assert reply["status"] == "ok", outputs


def progress(messages):
    """(text/plain, the root's attributes) of every progress display, in order."""
    out = []
    for m in messages:
        if m["msg_type"] not in ("display_data", "update_display_data"):
            continue
        html = m["content"]["data"].get("text/html", "")
        tag = re.search(r'<div class="treadle-progress"[^>]*>', html)
        if tag:
            out.append((m["content"]["data"]["text/plain"], dict(re.findall(r'([\w-]+)="([^"]*)"', tag.group(0)))))
    return out


def test_the_progress_line_counts_running_and_queued_as_the_scheduler_does(any_kernel):
    k = any_kernel
    start(k)
    _, messages = k.collect("r = treadle.gather([treadle.submit(nap, i) for i in range(12)])\nsum(r)", timeout=60)
    lines = progress(messages)
    assert lines, messages
    running = [int(a["data-running"]) for _, a in lines]
    queued = [int(a["data-queued"]) for _, a in lines]
    # 2 workers of 1 cpu: one task executes on each; the one sent ahead waits queued there.
    assert max(running) == 2, lines
    assert max(queued) >= 1, lines
    assert any(re.search(r", 2 running, \d+ queued, 0 failed", t) for t, _ in lines), lines
    assert "12/12 done, 0 failed in " in lines[-1][0], lines


def test_a_failure_is_counted_from_the_scheduler_states(any_kernel):
    k = any_kernel
    start(k)
    # 60 tasks: 30 consts finish; a program fails, and the 29 merges that read it fail with it.
    cell = ("%%treadle submit\n"
            "ok = [tasks.const(str(i)) for i in range(30)]\n"
            "bad = tasks.run(['/bin/sh', '-c', 'exit 3'])\n"
            "broken = [tasks.merge((bad, ok[i])) for i in range(29)]\n"
            "ok, broken")

    def settled(messages):
        return went_idle(messages) and any(a["data-state"] == "failed" and a["data-failed"] == "30"
                                           for _, a in progress(messages))
    _, messages = k.collect(cell, until=settled, timeout=30)
    assert any(m["msg_type"] == "error" for m in messages)
    lines = progress(messages)
    text_, attrs = lines[-1]
    assert attrs["data-state"] == "failed" and attrs["data-done"] == "30" and attrs["data-failed"] == "30", lines
    assert "30/60 done, 30 failed in " in text_, lines


def test_status_during_a_run_and_stop_count_what_the_scheduler_has(any_kernel):
    k = any_kernel
    start(k)
    reply, outputs, _ = k.run("fs = [treadle.submit(nap, i) for i in range(20)]\ntreadle.wait(fs[:3])")
    assert reply["status"] == "ok", outputs
    reply, outputs, _ = k.run("%treadle status")
    assert reply["status"] == "ok" and not errors(outputs), outputs
    shown = results(outputs)[0]["text/plain"]
    free = re.search(r"2 workers, 2 cpus \((\d+) free\)", shown)
    assert free and 0 <= int(free.group(1)) <= 2, shown
    assert " queued" in shown and "running" in shown, shown
    assert not re.search(r"-\d", shown), shown          # no negative count anywhere
    assert "html" not in shown and "text/html" in results(outputs)[0]
    # %treadle stop: the server's count of what it cancelled, and of the futures that had ended.
    reply, outputs, _ = k.run("%treadle stop")
    said = re.search(r"treadle: cancelled (\d+) tasks \((\d+) had ended: their results stay\)", text(outputs))
    assert said, outputs
    cancelled, ended = int(said.group(1)), int(said.group(2))
    assert cancelled + ended == 20 and ended >= 3, outputs
    reply, outputs, _ = k.run("print(sum(f.result() for f in fs[:3]))")
    assert text(outputs) == "3\n", outputs


def test_the_client_shows_its_cluster_in_a_notebook(any_kernel):
    k = any_kernel
    start(k)
    reply, outputs, _ = k.run("c = treadle.default_client()\nc.gather([c.submit(nap, i) for i in range(3)])\nc")
    assert reply["status"] == "ok" and not errors(outputs), outputs
    shown = results(outputs)[-1]
    assert re.match(r"<treadle\.Client 127\.0\.0\.1:\d+: 2 workers, 2 cpus \(2 free\), memory [\d.]+ \w+B; tasks: ",
                    shown["text/plain"]), shown["text/plain"]
    html = shown["text/html"]
    root = dict(re.findall(r'([\w-]+)="([^"]*)"', re.search(r'<div class="treadle-client"[^>]*>', html).group(0)))
    assert (root["data-workers"], root["data-cpus"], root["data-free"]) == ("2", "2", "2"), root
    assert re.search(r'<td class="treadle-client-cpus">2 \(2 free\)</td>', html), html
    assert "<code>127.0.0.1:" in html and html.count("<tr><td") == 2, html   # one row per worker
