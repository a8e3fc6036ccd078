"""In ``jupyter console`` (a terminal: it prints a display's text once and ignores its updates)
a progress line updates in place and ends with its summary; the notebook's outputs get none
of that text. A real jupyter console in a pty, with the treadle kernel and with ipykernel."""

import os
import signal
import sys

import psutil
import pytest

from conftest import went_idle
from tests.conftest import wait_until

WAIT = "r = treadle.gather([treadle.submit(time.sleep, 0.05) for i in range(60)]); print('sum', sum(x is None for x in r))"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kernel_name", ["treadle", "python3"])
def test_console_progress_updates_in_place_and_ends_with_a_summary(kernel_name):
    pexpect = pytest.importorskip("pexpect")
    pytest.importorskip("jupyter_console")
    console = pexpect.spawn(sys.executable, ["-m", "jupyter_console", "--kernel", kernel_name],
                            env=dict(os.environ, TERM="dumb"), encoding="utf-8", timeout=60,
                            dimensions=(40, 200))
    kernel_pid = None
    try:
        console.expect(r"In \[.*1.*\]")
        console.sendline("import os; print('kernel pid', os.getpid())")
        console.expect(r"kernel pid (\d+)")
        kernel_pid = int(console.match.group(1))
        lines = (["%load_ext treadle"] if kernel_name == "python3" else []) + \
            ["import time, treadle", "%treadle workers 2 --cpus 1", WAIT]
        for n, line in enumerate(lines, 2):
            console.expect(r"In \[.*{}.*\]".format(n))   # typed at the prompt, as a user would
            console.sendline(line)
        console.expect(r"In \[.*{}.*\]".format(len(lines) + 2))   # the cell ended
        screen = console.before
        assert "sum 60" in screen, screen
        # the display printed once, then the line rewritten in place up to its summary
        assert "waiting for 60 tasks: 0/60 done" in screen or "waiting for 60 tasks: " in screen, screen
        assert "\rwaiting for 60 tasks: 60/60 done, 0 failed in " in screen, repr(screen[-2000:])
        summary = screen.split("\rwaiting for 60 tasks: 60/60 done, 0 failed in ", 1)[1]
        assert summary.split("tasks/s)", 1)[1].lstrip(" ").startswith(("\n", "\r\n")), repr(summary)   # ends its line
        console.sendline("exit")
        console.expect(pexpect.EOF, timeout=30)
        wait_until(lambda: not psutil.pid_exists(kernel_pid) or
                   psutil.Process(kernel_pid).status() == psutil.STATUS_ZOMBIE, 15, what="the kernel's exit")
    finally:
        console.close(force=True)
        if kernel_pid is not None and psutil.pid_exists(kernel_pid):
            os.kill(kernel_pid, signal.SIGKILL)


def test_notebooks_get_no_terminal_text(any_kernel):
    """A notebook's outputs are those of its requests: the terminal's line is not one of them."""
    k = any_kernel
    reply, outputs, _ = k.run("import time, treadle\n%treadle workers 2 --cpus 1")
    assert reply["status"] == "ok", outputs
    _, messages = k.collect(WAIT, timeout=60)
    assert went_idle(messages)
    printed = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
    assert printed.strip().endswith("sum 60") and "\r" not in printed, repr(printed)
