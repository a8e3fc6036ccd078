"""Programs a Python task starts (subprocess.Popen) die with their task, as programs of `run`
tasks die with their worker (docs/python-tasks.md, "Programs a task starts"): the executor leads
a process group they join, which the worker ends with the executor — on a cancel, when the worker
stops (a closed cluster), and by the executor's parent-death handler when the worker is killed.
The kernel's shutdown, restart and %treadle stop: tests/kernel/test_kernel_task_children.py."""

import os
import signal

import psutil
import pytest

import treadle
from tests.conftest import TAG, tagged_processes, wait_until, _kill_all


def start_program(pid_file, wait):
    """The task: starts a long program (tagged: the suite finds it anywhere), writes its pid,
    and waits for it or returns at once, leaving it running."""
    import subprocess
    p = subprocess.Popen(["/usr/bin/python3", "-c", "import time; time.sleep(600)", TAG])
    with open(pid_file + ".tmp", "w") as f:
        f.write(str(p.pid))
    os.rename(pid_file + ".tmp", pid_file)
    return p.wait() if wait else p.pid


def program_pid(pid_file):
    wait_until(lambda: os.path.exists(pid_file), timeout=60, what="the task starting its program")
    with open(pid_file) as f:
        return int(f.read())


def gone(pid):
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE  # ended, not reaped yet
    except psutil.NoSuchProcess:
        return True


def wait_gone(pid, what):
    wait_until(lambda: gone(pid), timeout=30, what=what)


@pytest.mark.timeout(120)
def test_cancelling_a_python_task_ends_the_program_it_started(make_cluster, tmp_path):
    cluster = make_cluster(workers=1, cpus=1)
    client = treadle.Client(cluster, output=None)
    try:
        pid_file = str(tmp_path / "pid")
        future = client.submit(start_program, pid_file, True)
        pid = program_pid(pid_file)
        assert not gone(pid)
        assert client.cancel([future]).cancelled == 1
        wait_gone(pid, "the cancelled task's program ending")
        # the executor that replaced the killed one runs the next task
        assert client.submit(pow, 3, 4).result(timeout=60) == 81
    finally:
        client.close()
        _kill_all(tagged_processes())


@pytest.mark.timeout(120)
def test_closing_the_cluster_ends_programs_of_running_and_ended_tasks(make_cluster, tmp_path):
    cluster = make_cluster(workers=2, cpus=1)
    client = treadle.Client(cluster, output=None)
    try:
        running = client.submit(start_program, str(tmp_path / "running"), True)  # noqa: F841 - kept, or it is released
        left = client.submit(start_program, str(tmp_path / "left"), False)
        pids = [program_pid(str(tmp_path / "running")), left.result(timeout=60)]
        assert program_pid(str(tmp_path / "left")) == pids[1]
        assert not any(gone(pid) for pid in pids)
        client.close()
        cluster.close()
        for pid in pids:
            wait_gone(pid, "program {} ending with its cluster".format(pid))
    finally:
        _kill_all(tagged_processes())


@pytest.mark.timeout(120)
def test_a_killed_workers_python_task_takes_its_program_along(make_cluster, tmp_path):
    # SIGKILL leaves the worker no chance: the executor's parent-death handler ends its group.
    cluster = make_cluster(workers=1, cpus=1)
    client = treadle.Client(cluster, output=None)
    worker = cluster.workers[0]
    try:
        future = client.submit(start_program, str(tmp_path / "pid"), True)  # noqa: F841 - kept, or it is released
        pid = program_pid(str(tmp_path / "pid"))
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        wait_gone(pid, "the killed worker's task's program ending")
    finally:
        client.close()
        _kill_all(tagged_processes())


def pids_then_hold_the_interpreter(pid_file):
    """The task: starts a long program, writes its executor's pid and the program's, then makes
    one call into C code that holds the interpreter for minutes (no bytecode runs meanwhile)."""
    import subprocess
    p = subprocess.Popen(["/usr/bin/python3", "-c", "import time; time.sleep(600)", TAG])
    with open(pid_file + ".tmp", "w") as f:
        f.write("{} {}".format(os.getpid(), p.pid))
    os.rename(pid_file + ".tmp", pid_file)
    return sum(range(10 ** 12))


@pytest.mark.timeout(120)
def test_a_killed_workers_executor_ends_at_once_inside_a_long_call_into_c(make_cluster, tmp_path):
    # A parent-death handler written in Python would wait for the call to return (minutes).
    cluster = make_cluster(workers=1, cpus=1)
    client = treadle.Client(cluster, output=None)
    worker = cluster.workers[0]
    pid_file = str(tmp_path / "pids")
    executor = program = None
    try:
        future = client.submit(pids_then_hold_the_interpreter, pid_file)  # noqa: F841 - kept, or it is released
        wait_until(lambda: os.path.exists(pid_file), timeout=60, what="the task starting")
        with open(pid_file) as f:
            executor, program = (int(p) for p in f.read().split())
        wait_until(lambda: psutil.Process(executor).cpu_times().user > 0.2, timeout=60,
                   what="the executor inside its long call")
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
        wait_gone(executor, "the killed worker's executor ending inside its call")
        wait_gone(program, "the killed worker's task's program ending")
    finally:
        client.close()
        for pid in (executor, program):
            if pid is not None and not gone(pid):
                os.kill(pid, signal.SIGKILL)
        _kill_all(tagged_processes())
