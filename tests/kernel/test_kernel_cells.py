"""What cells submit stays theirs, through real kernels (the treadle kernel, and ipykernel with
%load_ext treadle): what a task prints reaches the cell that submitted it, also after that cell
finished and another one ran (read by parent msg_id: jupyter_client keeps such late messages);
interrupting a cell cancels its running tasks (cancel_on_interrupt), and only then."""

import os
import re
import time

from conftest import results, streams, text, went_idle

SETUP = """\
%treadle workers 2
import sys, time
import treadle

def late(label):
    time.sleep(1)
    print(label, "printed late", flush=True)
    print(label, "complains", file=sys.stderr, flush=True)
    return 1

def late_failure():
    time.sleep(1)
    print("about to fail", flush=True)
    raise ValueError("failed late")

def slow(path):
    open(path + ".started", "w").close()
    time.sleep(2)
    open(path, "w").write("finished")
    return 1
"""


def start(k):
    reply, outputs, _ = k.run(SETUP)
    assert reply["status"] == "ok", outputs
    assert "started 2 local workers" in text(outputs)


def test_task_output_reaches_its_cell_after_it_finished(any_kernel):
    k = any_kernel
    start(k)
    first, early = k.collect("f = treadle.submit(late, 'A')\ng = treadle.submit(late_failure)")
    assert "printed late" not in streams(early)  # the cell ended before the tasks printed
    # Another cell runs meanwhile; the tasks' output must not land there.
    second, other = k.collect("print('cell B')")
    assert streams(other) == "cell B\n"

    # Read on: the output of the first cell's tasks arrives attached to the first cell.
    def printed(messages):
        return ("printed late" in streams(messages) and "about to fail" in streams(messages)
                and "complains" in streams(messages, "stderr"))
    late_messages = []
    deadline = time.monotonic() + 10
    while not printed(late_messages) and time.monotonic() < deadline:
        try:
            msg = k.kc.get_iopub_msg(timeout=0.5)
        except Exception:
            continue
        assert msg["parent_header"].get("msg_id") != second, msg  # never in cell B
        if msg["parent_header"].get("msg_id") == first:
            late_messages.append(msg)
    assert printed(late_messages), late_messages
    out = streams(late_messages)
    assert "] A printed late\n" in out and "[task " in out  # each line marked with its task
    assert "] about to fail\n" in out                       # also from a task that then failed
    assert "] A complains\n" in streams(late_messages, "stderr")


# A listener that runs before the cell tracker's own hook and holds the submit's record back
# until the task's output has reached the tracker: the order a loaded machine sometimes takes.
HOLD_THE_RECORD = """\
import threading
from treadle.core import hooks
tracker = next(l for l in hooks.listeners if type(l).__name__ == "CellTracker")
routed = threading.Event()
route = tracker.route
def spy(client, items, *args, **kwargs):
    if any(b"early bird" in bytes(item[3]) for item in items):
        routed.set()
    return route(client, items, *args, **kwargs)
tracker.route = spy

class HoldTheRecord(hooks.ClientListener):
    def native_flushed(self, client, pending):
        assert routed.wait(20), "the task's output never reached the tracker"

def early(i):
    print("early bird", i, flush=True)
    return i
"""


def test_output_that_comes_before_its_submit_is_recorded_stays_in_its_cell(any_kernel):
    k = any_kernel
    start(k)
    reply, outputs, _ = k.run("treadle.submit(late, 'warm').result()", timeout=60)  # the client has a record
    assert reply["status"] == "ok" and "warm printed late" in text(outputs), outputs
    reply, outputs, _ = k.run(HOLD_THE_RECORD)
    assert reply["status"] == "ok", outputs
    reply, outputs, _ = k.run("hooks.listeners.insert(0, HoldTheRecord())\n"
                              "print(treadle.submit(early, 7).result())", timeout=60)
    assert reply["status"] == "ok", outputs
    # In this cell, marked with its task, and before the cell ended (not lost to the last one).
    assert "] early bird 7\n" in text(outputs) and text(outputs).endswith("7\n"), outputs


def started(*paths):
    """True once the tasks writing ``paths`` have started (``slow`` marks its start)."""
    return lambda: all(os.path.exists(p + ".started") for p in paths)


def submit_line(path):
    """A %%treadle submit cell whose one task writes ``path``: it shows a progress line."""
    return "%%treadle submit\nh = treadle.submit(slow, {!r})".format(path)


def line_ended_cancelled(messages):
    """True once the cell went idle and its progress line was updated to end "(cancelled)"."""
    return went_idle(messages) and any("(cancelled)" in m["content"]["data"]["text/plain"] for m in messages
                                       if m["msg_type"] == "update_display_data")


def interrupted_once_started_and_shown(k, path):
    """A ``collect`` predicate: interrupts the kernel once the task writing ``path`` runs and
    its line is shown (the line comes after the body ran), then waits for the line's end."""
    interrupted = []

    def until(messages):
        if not interrupted and started(path)() and any(m["msg_type"] == "display_data" for m in messages):
            interrupted.append(k.km.interrupt_kernel())
        return line_ended_cancelled(messages)
    return until


def errors(messages):
    return [m["content"]["ename"] for m in messages if m["msg_type"] == "error"]


def run_interrupted(k, code, when):
    """Runs ``code``, interrupted once ``when()`` is true; the cell must end by the interrupt."""
    reply, outputs, _ = k.run(code, interrupt_when=when, stop_on_error=False)
    assert reply["status"] == "error" and reply["ename"] == "KeyboardInterrupt", outputs
    return outputs


def test_interrupt_cancels_the_cells_tasks(any_kernel, tmp_path):
    k = any_kernel
    start(k)
    paths = [str(tmp_path / name) for name in ("one", "two", "three", "four", "five")]
    # A cell waiting on results is interrupted: its two tasks are cancelled (released; the
    # server replaces the executor running one), so they never write their files.
    outputs = run_interrupted(k, "f = treadle.submit(slow, {!r})\ng = treadle.submit(slow, {!r})\nf.result()"
                              .format(*paths[:2]), started(*paths[:2]))
    assert "treadle: cancelled 2 tasks of this cell" in text(outputs, "stderr"), outputs
    # The same in %%treadle submit: its progress line ends "(cancelled)".
    _, messages = k.collect(submit_line(paths[2]), until=interrupted_once_started_and_shown(k, paths[2]),
                            timeout=30)
    assert errors(messages) == ["KeyboardInterrupt"]
    # And for HyperLoom clients made in the cell (here a program, which is killed).
    outputs = run_interrupted(k, "from treadle.loom.client import Client, tasks\n"
                                 "from treadle.notebook import kernel as kernel_support\n"
                                 "client = Client(*kernel_support.session().address)\n"
                                 "f = client.submit_one(tasks.run(('sh', '-c', 'touch {0}.started; sleep 2; touch {0}')))\n"
                                 "f.wait()".format(paths[4]), started(paths[4]))
    assert "treadle: cancelled 1 task of this cell" in text(outputs, "stderr"), outputs
    time.sleep(2.5)
    assert not any(os.path.exists(p) for p in paths[:5]), os.listdir(str(tmp_path))
    reply, outputs, _ = k.run("print(treadle.submit(abs, -3).result())")
    assert text(outputs) == "3\n"  # the workers go on
    # With the option off, an interrupted cell's task goes on and finishes.
    reply, outputs, _ = k.run("%treadle config cancel_on_interrupt=off")
    assert reply["status"] == "ok"
    outputs = run_interrupted(k, "f = treadle.submit(slow, {!r})\nf.result()".format(paths[3]), started(paths[3]))
    assert "cancelled" not in text(outputs, "stderr")
    deadline = time.monotonic() + 5
    while not os.path.exists(paths[3]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert os.path.exists(paths[3])


# An interrupt that lands the moment a %%treadle submit line is shown, before anything else.
INTERRUPT_AT_SHOW = """\
from treadle.widgets import progress as progress_module
shown = progress_module.Progress.show
def show_then_interrupt(self, *args, **kwargs):
    progress_module.Progress.show = shown   # once
    shown(self, *args, **kwargs)
    raise KeyboardInterrupt
progress_module.Progress.show = show_then_interrupt
"""


def test_a_submit_line_interrupted_as_it_appears_ends_cancelled(any_kernel, tmp_path):
    k = any_kernel
    start(k)
    reply, outputs, _ = k.run(INTERRUPT_AT_SHOW)
    assert reply["status"] == "ok", outputs
    path = str(tmp_path / "one")
    # The line was followed before it was shown: it ends with the scheduler's count.
    _, messages = k.collect(submit_line(path), until=lambda ms: line_ended_cancelled(ms) and any(
        "1 cancelled" in m["content"]["data"]["text/plain"] for m in ms if m["msg_type"] == "update_display_data"),
        timeout=30)
    assert errors(messages) == ["KeyboardInterrupt"]
    reply, outputs, _ = k.run("print(treadle.submit(abs, -3).result())")
    assert text(outputs) == "3\n"  # the workers go on


# An interrupt that lands inside the line's display, just after the display went out.
INTERRUPT_IN_DISPLAY = """\
import IPython.display
shown = IPython.display.display
def display_then_interrupt(*args, **kwargs):
    if kwargs.get("display_id", "").startswith("treadle-progress"):
        IPython.display.display = shown   # once
        shown(*args, **kwargs)
        raise KeyboardInterrupt
    return shown(*args, **kwargs)
IPython.display.display = display_then_interrupt
"""


def test_a_submit_line_interrupted_inside_its_display_still_ends_cancelled(any_kernel, tmp_path):
    # The line was on the screen, so its end must reach it (it stayed "running" ~1 run in 20).
    k = any_kernel
    start(k)
    reply, outputs, _ = k.run(INTERRUPT_IN_DISPLAY)
    assert reply["status"] == "ok", outputs
    _, messages = k.collect(submit_line(str(tmp_path / "one")), until=line_ended_cancelled, timeout=30)
    assert errors(messages) == ["KeyboardInterrupt"]
    assert [m["msg_type"] for m in messages].count("display_data") == 1, messages


# A cancelled task never counts as done, whoever ends the line: here the line's own end comes
# 1 s late, so the monitor has every chance to get there first.
LATE_LINE_END = """\
from treadle.widgets import progress as progress_module
ended = progress_module.Progress.cancelled
def cancelled_late(self):
    time.sleep(1)
    return ended(self)
progress_module.Progress.cancelled = cancelled_late
"""


def test_a_cancelled_submit_line_never_says_done(any_kernel, tmp_path):
    k = any_kernel
    start(k)
    reply, outputs, _ = k.run(LATE_LINE_END)
    assert reply["status"] == "ok", outputs
    path = str(tmp_path / "one")
    _, messages = k.collect(submit_line(path), until=interrupted_once_started_and_shown(k, path), timeout=30)
    lines = [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "update_display_data"]
    assert not any("1/1 done" in line for line in lines), lines


def test_a_cancelled_submit_line_counts_its_cancelled_tasks(any_kernel, tmp_path):
    """Two tasks run on the two workers, a third waits: interrupted, the line says the scheduler
    cancelled all three, none done, and ends "cancelled" (in its text and its data)."""
    k = any_kernel
    start(k)
    reply, outputs, _ = k.run("def slower(path):\n    open(path + '.started', 'w').close()\n    time.sleep(30)\n")
    assert reply["status"] == "ok", outputs
    paths = [str(tmp_path / name) for name in ("one", "two", "three")]
    interrupted = []

    def counted(ms):
        running = sum(os.path.exists(p + ".started") for p in paths)
        if not interrupted and running >= 2 and any(m["msg_type"] == "display_data" for m in ms):
            interrupted.append(k.km.interrupt_kernel())
        return went_idle(ms) and any("3 cancelled" in m["content"]["data"]["text/plain"] for m in ms
                                     if m["msg_type"] == "update_display_data")

    _, messages = k.collect("%%treadle submit\nhs = [treadle.submit(slower, p) for p in {!r}]".format(paths),
                            until=counted, timeout=30)
    assert [m["content"]["ename"] for m in messages if m["msg_type"] == "error"] == ["KeyboardInterrupt"]
    updates = [m["content"]["data"] for m in messages if m["msg_type"] == "update_display_data"
               and "treadle-progress" in m["content"]["data"].get("text/html", "")]
    last = updates[-1]
    assert "0/3 done, 0 failed, 3 cancelled in " in last["text/plain"], last["text/plain"]
    assert last["text/plain"].endswith("(cancelled)"), last["text/plain"]
    attrs = dict(re.findall(r'(data-[a-z]+)="([^"]*)"', re.search(r'<div class="treadle-progress"[^>]*>',
                                                                    last["text/html"]).group(0)))
    assert (attrs["data-state"], attrs["data-done"], attrs["data-cancelled"]) == ("cancelled", "0", "3"), attrs
    assert not any("/3 done" in u["text/plain"] and "0/3 done" not in u["text/plain"] for u in updates), updates


# IPython shows the traceback before post_run_cell; the first one in a session imports its
# formatting (seconds on a loaded machine). Here it takes 3 s, longer than the tasks' 2 s.
SLOW_TRACEBACKS = """\
shell = get_ipython()
shown = shell.showtraceback
def slowly_shown(*args, **kwargs):
    time.sleep(3)
    return shown(*args, **kwargs)
shell.showtraceback = slowly_shown
"""


def test_an_interrupted_cells_tasks_are_cancelled_before_its_traceback_is_shown(any_kernel, tmp_path):
    k = any_kernel
    start(k)
    reply, outputs, _ = k.run(SLOW_TRACEBACKS)
    assert reply["status"] == "ok", outputs
    paths = [str(tmp_path / name) for name in ("one", "two")]
    outputs = run_interrupted(k, "f = treadle.submit(slow, {!r})\ng = treadle.submit(slow, {!r})\nf.result()"
                              .format(*paths), started(*paths))
    assert "treadle: cancelled 2 tasks of this cell" in text(outputs, "stderr"), outputs
    # the tasks would have written their files 2 s after they started: the cell took 3 s more
    assert not any(os.path.exists(p) for p in paths), os.listdir(str(tmp_path))
    reply, outputs, _ = k.run("print(treadle.submit(abs, -3).result())")
    assert text(outputs) == "3\n"  # the workers go on


# A %%treadle submit cell fails as soon as one of its tasks fails, while the others run on, and
# the first traceback of a session takes seconds to format (IPython imports its formatting):
# an interrupt often lands there. Here the formatting waits until the test interrupts it.
FORMATTING_WAITS_FOR_AN_INTERRUPT = """\
shell = get_ipython()
formatted = shell.InteractiveTB.structured_traceback
def formatted_once_interrupted(*args, **kwargs):
    shell.InteractiveTB.structured_traceback = formatted   # once
    open({marker!r}, "w").close()
    time.sleep(60)   # interrupted here
    return formatted(*args, **kwargs)
shell.InteractiveTB.structured_traceback = formatted_once_interrupted

def held(i):
    time.sleep(60)

def bad(x):
    raise ValueError("bad {{}}".format(x))
"""


def test_an_interrupt_while_a_submit_cells_error_is_shown_cancels_its_tasks(any_kernel, tmp_path):
    k = any_kernel
    start(k)
    marker = str(tmp_path / "formatting")
    reply, outputs, _ = k.run(FORMATTING_WAITS_FOR_AN_INTERRUPT.format(marker=marker))
    assert reply["status"] == "ok", outputs
    interrupted = []

    def until(messages):
        if not interrupted and os.path.exists(marker):
            interrupted.append(k.km.interrupt_kernel())
        return went_idle(messages)

    msg_id, messages = k.collect("%%treadle submit --name job\nvals = [treadle.submit(bad, 1)] + "
                                 "[treadle.submit(held, i) for i in range(4)]", until=until, timeout=30)
    shown = [(m["msg_type"], m["content"]) for m in messages if m["msg_type"] in ("stream", "error")]
    # The tasks were cancelled first, then the task's error was shown whole (no bare interrupt).
    assert [kind for kind, _ in shown] == ["stream", "error"], shown
    assert shown[0][1]["name"] == "stderr" and "treadle: cancelled 4 tasks of this cell" in shown[0][1]["text"], shown
    assert "KeyboardInterrupt" not in shown[0][1]["text"], shown
    assert shown[1][1]["ename"] == "ValueError" and "ValueError: bad 1" in shown[1][1]["evalue"], shown
    frames = re.sub(r"\x1b\[[0-9;]*m", "", "".join(shown[1][1]["traceback"]))   # without its colours
    assert "raise ValueError" in frames, frames   # the task's own frames
    reply = k.kc.get_shell_msg(timeout=10)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = k.kc.get_shell_msg(timeout=10)
    assert (reply["content"]["status"], reply["content"]["ename"]) == ("error", "ValueError"), reply["content"]
    lines = [m["content"]["data"]["text/plain"] for m in messages if m["msg_type"] == "update_display_data"]
    assert lines and lines[-1].startswith("job: 0/5 done, 1 failed, 4 cancelled in "), lines
    assert lines[-1].endswith("(cancelled)"), lines


# An interrupt that lands in IPython's own work between two statements of a cell (compiling the
# next one): IPython records it as the cell's error before execution, not in it.
INTERRUPT_BETWEEN_STATEMENTS = """\
shell = get_ipython()
class InterruptingCompiler(type(shell.compile)):
    armed = False
    def __call__(self, *args, **kwargs):
        if InterruptingCompiler.armed:
            InterruptingCompiler.armed = False
            raise KeyboardInterrupt   # what SIGINT's handler raises
        return super().__call__(*args, **kwargs)
shell.compile.__class__ = InterruptingCompiler
"""


def test_an_interrupt_between_a_cells_statements_cancels_its_tasks(any_kernel, tmp_path):
    k = any_kernel
    start(k)
    reply, outputs, _ = k.run(INTERRUPT_BETWEEN_STATEMENTS)
    assert reply["status"] == "ok", outputs
    path = str(tmp_path / "one")
    reply, outputs, _ = k.run("f = treadle.submit(slow, {!r})\nInterruptingCompiler.armed = True\nf.result()"
                              .format(path), stop_on_error=False)
    assert (reply["status"], reply["ename"]) == ("error", "KeyboardInterrupt"), outputs
    assert "treadle: cancelled 1 task of this cell" in text(outputs, "stderr"), outputs
    reply, outputs, _ = k.run("f")
    assert results(outputs)[0]["text/plain"].endswith(" cancelled>"), outputs
