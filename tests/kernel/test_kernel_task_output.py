"""What tasks print, seen in the cell as a notebook user sees it (the treadle kernel, and
ipykernel with %load_ext treadle): a line the task did not end is in the cell before the
result it waited for, and a line a progress bar rewrites with carriage returns keeps its mark
and, shown while the task runs, is one display rewritten in place (no line per update)."""

import re

from conftest import text

TASKS = r"""
import os, sys, treadle

@treadle.task
def ask(x):
    sys.stdout.write(f"answer for {x}: ")   # a prompt without its newline
    return 2 * x

@treadle.task
def ask_end(x):
    print("no newline either", end="")
    return x

@treadle.task
def ask_raw(x):
    os.write(1, b"raw bytes without an end")   # as C code or a child program writes
    return x

@treadle.task
def bar(x):
    for i in range(3):
        print(f"\rprogress {i}/3", end="", flush=True)
    print()
    return x

@treadle.task
def slow_bar(steps):
    import time
    for i in range(steps + 1):
        print(f"\r{10 * i}%", end="", flush=True)   # tqdm's way: no newline until the end
        time.sleep(0.3)   # slower than the cell's wait for a line's end: shown unfinished
    return steps
"""


def run_ok(kernel, code):
    reply, outputs, _ = kernel.run(code, timeout=60)
    assert reply["status"] == "ok", outputs
    return text(outputs)


def test_an_unended_line_comes_before_the_result(any_kernel):
    """The cell's output, read up to its idle (all nbclient keeps), holds the task's unended
    line, marked with its task, before the value the cell printed after result()."""
    run_ok(any_kernel, "%treadle workers 1 --cpus 1")
    run_ok(any_kernel, TASKS)
    for call, line, value in (("ask(21)", "answer for 21: ", "42"),
                              ("ask_end(5)", "no newline either", "5"),
                              ("ask_raw(7)", "raw bytes without an end", "7")):
        out = run_ok(any_kernel, "print({}.result())".format(call))
        assert re.fullmatch(r"\[task \d+ \w+\] {}\n{}\n".format(re.escape(line), value), out), (call, out)


def test_a_rewritten_line_keeps_its_task_mark(any_kernel):
    """After each carriage return the mark comes again, so what the notebook shows of the
    line (the text after the last one) still names its task."""
    run_ok(any_kernel, "%treadle workers 1 --cpus 1")
    run_ok(any_kernel, TASKS)
    out = run_ok(any_kernel, "print(bar(1).result())")
    line = out.split("\n")[0]
    shown = line.split("\r")[-1]
    assert re.fullmatch(r"\[task \d+ bar\] progress 2/3", shown), repr(out)
    assert all(re.match(r"\[task \d+ bar\] ", part) for part in line.split("\r")), repr(out)


def test_a_progress_line_shown_while_it_runs_is_rewritten_in_place(any_kernel):
    """A task that rewrites its line for seconds (never ending it): shown while it runs as one
    display of its own, updated in place, whose last text is the bar's last value; the stream
    gets none of it, so the cell's print stands alone."""
    run_ok(any_kernel, "%treadle workers 1 --cpus 1")
    run_ok(any_kernel, TASKS)
    reply, outputs, _ = any_kernel.run("print(slow_bar(10).result())", timeout=60)
    assert reply["status"] == "ok", outputs
    assert text(outputs) == "10\n", outputs
    bars = [o[1]["text/plain"] for o in outputs if o[0] == "display_data" and
            o[1].get("text/plain", "").startswith("[task ")]
    assert len(bars) == 1, outputs   # displayed once (its updates are not outputs)
    _, messages = any_kernel.collect("print(slow_bar(10).result())", timeout=60)
    shown = [m["content"]["data"]["text/plain"] for m in messages
             if m["msg_type"] in ("display_data", "update_display_data")
             and m["content"].get("transient", {}).get("display_id", "").startswith("treadle-line-")]
    assert len(shown) >= 2 and re.fullmatch(r"\[task \d+ slow_bar\] 100%", shown[-1]), shown
