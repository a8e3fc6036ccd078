"""What tasks print, seen in the cell as a notebook user sees it (the treadle kernel, and
ipykernel with %load_ext treadle): a line the task did not end is in the cell before the
result it waited for, and a line a progress bar rewrites with carriage returns keeps its mark."""

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
