"""A batch scheduler ending a job (scancel, qdel, a walltime) sends SIGTERM to every process of
the job, the worker's Python executors included. The worker alone decides what it means: an
executor that died of it first would fail its running task as if the task had killed it, where
the job's end should make a lost worker whose tasks run elsewhere."""

import os
import signal
import time

from tests.conftest import wait_until


def test_an_executor_leaves_sigterm_to_its_worker(make_cluster, make_client, tmp_path):
    import treadle
    cluster = make_cluster(workers=1)
    client = treadle.Client(cluster.address)
    pid_file = str(tmp_path / "executor.pid")

    def note_pid_then_work(path):
        import os
        import time
        with open(path + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.rename(path + ".tmp", path)
        deadline = time.time() + 1.5
        while time.time() < deadline:     # no sleep() call: a signal handler runs at once here
            time.sleep(0.01)
        return "done"

    try:
        future = client.submit(note_pid_then_work, pid_file)
        client.flush()
        wait_until(lambda: os.path.exists(pid_file), timeout=30, what="the task to start")
        os.kill(int(open(pid_file).read()), signal.SIGTERM)
        assert future.result() == "done"
    finally:
        client.close()


def test_an_executor_leaves_sigterm_to_its_worker_while_it_starts(make_cluster):
    """The job's SIGTERM can come while an executor's Python is still starting (a worker that
    had run nothing yet when the job was cancelled): it must wait for the executor's handler."""
    import psutil
    import threading
    import treadle
    cluster = make_cluster(workers=1)
    worker = psutil.Process(cluster.workers[0].pid)
    signalled = []

    def signal_the_executor_at_once():
        deadline = time.monotonic() + 30
        while not signalled and time.monotonic() < deadline:
            for child in worker.children():
                try:
                    if "treadle.executor" in " ".join(child.cmdline()):
                        child.send_signal(signal.SIGTERM)
                        signalled.append(child.pid)
                except psutil.Error:
                    pass
    watcher = threading.Thread(target=signal_the_executor_at_once)
    watcher.start()
    client = treadle.Client(cluster.address)
    try:
        future = client.submit(abs, -7)   # the worker's first Python task starts its executors
        client.flush()
        watcher.join()
        assert signalled, "no executor started"
        assert future.result() == 7
        assert psutil.pid_exists(signalled[0])
    finally:
        client.close()


def test_a_program_ended_with_its_job_is_run_elsewhere(make_cluster):
    """The job's SIGTERM reaches a task's program a moment before the worker: the task is
    re-placed with the worker's other tasks, not failed as if the program had crashed."""
    import psutil
    from treadle.loom.client import Client, tasks
    cluster = make_cluster(workers=2)
    client = Client(*cluster.address)
    try:
        future = client.submit_one(tasks.run("sleep 2"))

        def the_program():
            for w in cluster.workers:
                for child in psutil.Process(w.pid).children(recursive=True):
                    try:
                        if child.name() == "sleep":
                            return child, w.pid
                    except psutil.Error:
                        pass
            return None
        program, worker_pid = wait_until(the_program, timeout=30, what="the program to start")
        program.send_signal(signal.SIGTERM)     # in the order a job's end may come
        time.sleep(0.05)  # the gap between the two signals, as slurmstepd's loop over the job's processes leaves
        os.kill(worker_pid, signal.SIGTERM)
        assert future.gather() == b""
    finally:
        client.close()
