"""Jupyter's conventions, kept as ipykernel keeps them (both kernels driven by jupyter_client and
compared where they can be): a UsageError fails its cell, so Run All and nbclient stop there;
Kernel > Interrupt works although whoever started the kernel ignored SIGINT; `exit` and `quit`
ask the frontend to close (jupyter console exits); xeus' "Run with XEUS" line reaches no user."""

import os
import signal
import subprocess
import sys
import time

import nbformat
import psutil
import pytest

from conftest import Kernel, errors, streams, text
from tests.conftest import wait_until

USAGE_ERRORS = ["%treadle no-such-thing", "%timeit -Z", "%%treadle task --retries\nx = 1"]


def answer(k, code):
    reply, outputs, _ = k.run(code, stop_on_error=False)
    return ({key: reply.get(key) for key in ("status", "ename", "evalue", "traceback")},
            text(outputs, "stderr"), errors(outputs))


def test_usage_error_fails_the_cell_as_in_ipykernel(kernel, ipykernel):
    reply, outputs, _ = ipykernel.run("%load_ext treadle")
    assert reply["status"] == "ok", outputs
    for code in USAGE_ERRORS:
        ours, theirs = answer(kernel, code), answer(ipykernel, code)
        assert ours == theirs, code
        content, stderr, error_messages = ours
        assert content["status"] == "error" and content["ename"] == "UsageError", (code, content)
        # Shown as ipykernel shows it: one stderr line, no traceback.
        assert stderr == "UsageError: {}\n".format(content["evalue"]) and not error_messages, (code, ours)
    reply, outputs, _ = kernel.run("print('still here')")
    assert reply["status"] == "ok" and text(outputs) == "still here\n"


def test_run_all_stops_at_a_usage_error(any_kernel, tmp_path):
    # Run All queues every cell at once; the kernel drops those after a failed one.
    k = any_kernel
    marker = tmp_path / "ran"
    cells = ["x = 1", "%treadle no-such-thing", "open({!r}, 'w').close()".format(str(marker))]
    ids = [k.kc.execute(code, stop_on_error=True) for code in cells]
    replies = {}
    deadline = time.monotonic() + 30
    while len(replies) < len(ids):
        assert time.monotonic() < deadline, replies
        msg = k.kc.get_shell_msg(timeout=deadline - time.monotonic())
        if msg["parent_header"].get("msg_id") in ids:
            replies[msg["parent_header"]["msg_id"]] = msg["content"]
    first, usage, after = (replies[i] for i in ids)
    assert first["status"] == "ok"
    assert usage["status"] == "error" and usage["ename"] == "UsageError", usage
    assert after["status"] != "ok" and not marker.exists(), after


def test_nbclient_stops_at_a_usage_error(tmp_path):
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code) for code in ("x = 1", "%treadle no-such-thing", "x = 2")]
    client = NotebookClient(nb, kernel_name="treadle", timeout=60,
                            resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(CellExecutionError) as failure:
        client.execute()
    assert failure.value.ename == "UsageError", failure.value
    assert nb.cells[1].execution_count == 2 and nb.cells[2].execution_count is None


def ignore_sigint():
    # In the kernel's process before exec, as `nohup jupyter notebook &` leaves it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize("name", ["treadle", "python3"])
def test_interrupt_works_when_the_launcher_ignored_sigint(name):
    k = Kernel(name, preexec_fn=ignore_sigint)
    try:
        msg_id = k.kc.execute("import time\nprint('sleeping', flush=True)\ntime.sleep(60)")
        k.follow(msg_id, until=lambda messages: "sleeping" in streams(messages))
        start = time.monotonic()
        k.km.interrupt_kernel()
        deadline = start + 15
        while True:
            left = deadline - time.monotonic()
            assert left > 0, "no reply {:.0f} s after the interrupt".format(time.monotonic() - start)
            try:
                reply = k.kc.get_shell_msg(timeout=left)
            except Exception:
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        took = time.monotonic() - start
        assert reply["content"]["status"] == "error" and reply["content"]["ename"] == "KeyboardInterrupt", reply
        assert took < 5, took
        reply, outputs, _ = k.run("print('after')")
        assert reply["status"] == "ok" and text(outputs) == "after\n"
    finally:
        k.shutdown()


def test_exit_and_quit_ask_the_frontend_to_close(kernel, ipykernel):
    for code, keep in (("exit", False), ("quit", False), ("exit()", False), ("quit(keep_kernel=True)", True)):
        ours, theirs = kernel.run(code)[0], ipykernel.run(code)[0]
        assert ours["status"] == theirs["status"] == "ok", (code, ours)
        assert ours["payload"] == theirs["payload"] == [{"source": "ask_exit", "keepkernel": keep}], (code, ours)
    # The frontend decides: the kernel itself goes on.
    reply, outputs, _ = kernel.run("print('still here')")
    assert text(outputs) == "still here\n"


def test_jupyter_console_exits_on_exit():
    pexpect = pytest.importorskip("pexpect")
    pytest.importorskip("jupyter_console")
    console = pexpect.spawn(sys.executable, ["-m", "jupyter_console", "--kernel", "treadle"],
                            env=dict(os.environ, TERM="dumb"), encoding="utf-8", timeout=60,
                            dimensions=(40, 200))
    kernel_pid = None
    try:
        console.expect(r"In \[.*1.*\]")
        console.sendline("import os; print('kernel pid', os.getpid())")
        console.expect(r"kernel pid (\d+)")
        kernel_pid = int(console.match.group(1))
        console.expect(r"In \[.*2.*\]")
        screen = console.before
        console.sendline("exit")
        console.expect(pexpect.EOF, timeout=30)
        screen += console.before
        assert "Error" not in screen and "XEUS" not in screen, screen
        # The console shut its kernel down on the way out.
        wait_until(lambda: not psutil.pid_exists(kernel_pid) or
                   psutil.Process(kernel_pid).status() == psutil.STATUS_ZOMBIE, 15, what="the kernel's exit")
    finally:
        console.close(force=True)
        if kernel_pid is not None and psutil.pid_exists(kernel_pid):
            os.kill(kernel_pid, signal.SIGKILL)


def test_no_xeus_banner_reaches_the_user(tmp_path):
    # nbconvert (like jupyter console) shows the kernel's stdout and stderr in the terminal.
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('hello')")]
    path = tmp_path / "hello.ipynb"
    nbformat.write(nb, str(path))
    run = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute",
                          "--ExecutePreprocessor.kernel_name=treadle", "--output", "out.ipynb", str(path)],
                         cwd=str(tmp_path), capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    assert "XEUS" not in run.stdout + run.stderr, run.stdout + run.stderr
    out = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    assert [o.get("text") for o in out.cells[0].outputs] == ["hello\n"]
