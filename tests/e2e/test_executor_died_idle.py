"""An executor that died while idle (killed, out of memory) and was sent a task before its worker
noticed: the task never started, so it runs on the executor that replaces it, rather than failing
with "the Python executor running this task was killed by signal 9" (engine/worker/executor_pool.cpp,
never_read_head: the pipe says the executor read none of the task's request). The IPython layer
met it as a flaky test: a pull right after its engine's process was killed."""

import os
import signal
import psutil
import pytest

import treadle
from tests.conftest import wait_until


@pytest.mark.timeout(300)
def test_a_task_sent_to_an_executor_that_died_idle_runs_on_its_replacement(make_cluster):
    cluster = make_cluster(workers=1, cpus=1)
    client = treadle.Client(cluster, output=None)
    worker = cluster.workers[0]
    try:
        # The worker is stopped while its idle executor is killed and a task comes, so it meets
        # both at once when it runs again; which it takes first varies, hence the rounds.
        for i in range(15):
            pid = client.submit(os.getpid).result(timeout=60)
            worker.send_signal(signal.SIGSTOP)
            try:
                os.kill(pid, signal.SIGKILL)
                wait_until(lambda: psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, what="the executor ending")
                future = client.submit(pow, 2, i)
                # (the native client sends its first call at once; the server assigns it then)
                wait_until(lambda: client.core.states([future.task_id])[0] in ("assigned", "running"),
                           timeout=30, what="the task sent to the stopped worker")
            finally:
                worker.send_signal(signal.SIGCONT)
            assert future.result(timeout=60) == 2 ** i
    finally:
        client.close()
