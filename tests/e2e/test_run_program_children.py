"""What a `run` task's program starts goes with it (docs/tasks.md, "run"): the program leads a
process group of its own, which the programs it starts join, and the worker kills the whole group
when the task is cancelled, when the worker stops, and when the program ends (what a script left
running with `cmd &`). Before, only the program's own pid was killed.
Python tasks' programs: test_task_children.py."""

import os

import pytest

from tests.conftest import TAG, tagged_processes, wait_until, _kill_all
from tests.e2e.test_task_children import gone
from treadle.loom.client import Client, tasks

LONG = "/usr/bin/python3 -c 'import time; time.sleep(600)' " + TAG


def leaves_a_program(pid_file, then):
    """A script that starts a long program in the background, writes its pid, then `then`."""
    return tasks.run(["sh", "-c", "{} & echo $! > {}.tmp && mv {}.tmp {}; {}".format(
        LONG, pid_file, pid_file, pid_file, then)])


def program_pid(pid_file):
    wait_until(lambda: os.path.exists(pid_file), timeout=60, what="the script starting its program")
    with open(pid_file) as f:
        return int(f.read())


@pytest.mark.timeout(120)
def test_a_cancelled_run_task_ends_what_its_program_started(make_cluster, tmp_path):
    cluster = make_cluster(workers=2, cpus=1)
    client = Client(*cluster.address)
    try:
        pid_file = str(tmp_path / "pid")
        running, healthy = client.submit([leaves_a_program(pid_file, "wait"), tasks.run("echo ok")])
        pid = program_pid(pid_file)
        assert not gone(pid)
        assert healthy.gather() == b"ok\n"
        assert client.cancel([running]) == (1, 0)
        wait_until(lambda: gone(pid), timeout=30, what="the cancelled script's program ending")
        assert client.submit([tasks.run("echo again")])[0].gather() == b"again\n"   # the worker serves on
    finally:
        client.close()
        _kill_all(tagged_processes())


@pytest.mark.timeout(120)
def test_a_program_left_running_by_a_finished_script_ends_with_it(make_cluster, tmp_path):
    cluster = make_cluster(workers=2, cpus=1)
    client = Client(*cluster.address)
    try:
        pid_file = str(tmp_path / "pid")
        # The script exits at once with its status; its background program must not outlive it.
        finished, = client.submit([leaves_a_program(pid_file, "exit 0")])
        finished.wait()
        wait_until(lambda: gone(program_pid(pid_file)), timeout=30, what="the left program ending")
        failing, = client.submit([leaves_a_program(pid_file + "2", "exit 3")])
        with pytest.raises(Exception, match="3"):
            failing.gather()
        wait_until(lambda: gone(program_pid(pid_file + "2")), timeout=30, what="the failed script's program ending")
    finally:
        client.close()
        _kill_all(tagged_processes())


@pytest.mark.timeout(120)
def test_a_stopping_worker_ends_what_its_programs_started(make_cluster, tmp_path):
    cluster = make_cluster(workers=1, cpus=1)
    client = Client(*cluster.address)
    try:
        pid_file = str(tmp_path / "pid")
        running = client.submit([leaves_a_program(pid_file, "wait")])  # noqa: F841 - kept, or it is released
        pid = program_pid(pid_file)
        client.close()
        cluster.close()
        wait_until(lambda: gone(pid), timeout=30, what="the program ending with its worker")
    finally:
        _kill_all(tagged_processes())
