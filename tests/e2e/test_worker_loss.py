"""Workers die (SIGKILL) or stall (SIGSTOP) while the server has work for them."""

import os
import signal
import time

import pytest

from tests.conftest import assert_serving, python_program, tagged_processes, wait_until, _kill_all
from treadle.loom.client import Client, TaskFailed, tasks


def progress(client):
    s = client.status()
    return sum(w["tasks_done"] for w in s["workers"]), s


def kill(proc):
    proc.send_signal(signal.SIGKILL)
    proc.wait(5)


@pytest.mark.timeout(90)
def test_sigkill_a_worker_in_a_10000_task_graph(make_cluster, tmp_path):
    cluster = make_cluster(workers=3, cpus=1, worker_args=["--workdir", str(tmp_path)])
    client = Client(*cluster.address)
    n = 10000
    # 10,000 independent sleeps of 3 ms, each passing on its own number, merged through a tree:
    # the result names every task exactly once, in order, so no lost or doubled piece goes unseen.
    leaves = [tasks.sleep(0.003, tasks.const("{};".format(i))) for i in range(n)]
    chunks = [tasks.merge(leaves[i:i + 100]) for i in range(0, n, 100)]
    root = tasks.merge(chunks)
    expected = "".join("{};".format(i) for i in range(n)).encode()
    future = client.submit_one(root)

    # kill a worker that has done part of the work, while most is still to do
    done, status = wait_until(lambda: (lambda p: p if p[0] > 3000 else None)(progress(client)),
                              timeout=30, interval=0.01, what="progress")
    assert status["states"]["waiting"] > 0 and done < 15000, "too late for the kill: {}".format(status)
    victim_index = max(range(3), key=lambda i: status["workers"][i]["tasks_done"])
    victim_pid = int(status["workers"][victim_index]["name"].rsplit(":", 1)[1])
    victim = next(w for w in cluster.workers if w.pid == victim_pid)
    kill(victim)
    assert victim.returncode == -signal.SIGKILL

    assert future.gather() == expected
    # the server noticed: one worker fewer, and not the killed one
    status = wait_until(lambda: (lambda s: s if len(s["workers"]) == 2 else None)(client.status()),
                        timeout=10, what="the server dropping the worker")
    assert all(not w["name"].endswith(":{}".format(victim_pid)) for w in status["workers"])
    assert_serving(client, workers=2)
    client.close()


@pytest.mark.timeout(60)
def test_results_held_by_a_killed_worker_are_recomputed(make_cluster, tmp_path):
    cluster = make_cluster(workers=2, cpus=1, worker_args=["--workdir", str(tmp_path)],
                           server_args=["--worker-timeout", "1000"])
    client = Client(*cluster.address)
    futures = client.submit([tasks.merge((tasks.const("r{}-".format(i)), tasks.const(str(i * i))))
                             for i in range(200)])
    client.wait(futures)
    held = [w["tasks_done"] for w in client.status()["workers"]]
    assert all(held), "both workers should hold some results: {}".format(held)
    kill(cluster.workers[0])
    wait_until(lambda: len(client.status()["workers"]) == 1, timeout=10, what="the server dropping the worker")
    assert client.gather(futures) == ["r{}-{}".format(i, i * i).encode() for i in range(200)]
    client.close()


@pytest.mark.timeout(60)
def test_only_worker_for_a_cpus2_task_dies(make_cluster, tmp_path):
    # A task only a lost worker could run waits --worker-grace for one that fits (30 s by
    # default; test_worker_replaced covers the wait itself): 1 s here.
    cluster = make_cluster(workers=0, worker_args=["--workdir", str(tmp_path)],
                           server_args=["--worker-timeout", "1000", "--worker-grace", "1"])
    small = cluster.add_worker(cpus=1)
    big = cluster.add_worker(cpus=2)
    cluster.wait_for_workers(2)
    client = Client(*cluster.address)
    t = tasks.run(python_program("import time; time.sleep(30)"), request=tasks.cpus(2))
    future = client.submit_one(t)
    wait_until(lambda: client.status()["states"]["running"] == 1, timeout=10, what="the task running")
    big_status = next(w for w in client.status()["workers"] if w["cpus"] == 2)
    assert big_status["free_cpus"] == 0
    kill(big)
    with pytest.raises(TaskFailed) as info:
        future.wait()
    assert "2 cpus" in str(info.value)
    # the 1-cpu worker still serves light and 1-cpu work
    assert small.poll() is None
    assert_serving(client, workers=1)
    assert client.submit_one(tasks.run("/bin/echo fine")).gather() == b"fine\n"
    client.close()
    # The program of the killed worker is an orphan now (SIGKILL leaves the worker no chance).
    _kill_all(tagged_processes())


@pytest.mark.timeout(60)
def test_all_workers_lost_then_a_new_one_joins(make_cluster, tmp_path):
    cluster = make_cluster(workers=1, cpus=1, worker_args=["--workdir", str(tmp_path)],
                           server_args=["--worker-timeout", "1000"])
    client = Client(*cluster.address)
    leaves = [tasks.sleep(0.01, tasks.const("{},".format(i))) for i in range(400)]
    future = client.submit_one(tasks.merge(leaves))
    wait_until(lambda: progress(client)[0] > 20, timeout=10, interval=0.01, what="progress")
    kill(cluster.workers[0])
    wait_until(lambda: not client.status()["workers"], timeout=10, what="the server dropping the worker")
    cluster.add_worker()
    assert future.gather() == "".join("{},".format(i) for i in range(400)).encode()
    client.close()


def stalled_first_worker(make_cluster, tmp_path, workers):
    """A cluster whose server drops a worker after 1 s of silence, a client, and its first
    worker stopped (SIGSTOP): (cluster, client, the stopped worker's process)."""
    cluster = make_cluster(workers=workers, cpus=1, worker_args=["--workdir", str(tmp_path)],
                           server_args=["--worker-timeout", "1000"])
    client = Client(*cluster.address)
    stalled = cluster.workers[0]
    stalled.send_signal(signal.SIGSTOP)
    return cluster, client, stalled


@pytest.mark.timeout(60)
def test_stalled_worker_is_dropped_and_work_goes_on(make_cluster, tmp_path):
    cluster, client, stalled = stalled_first_worker(make_cluster, tmp_path, workers=2)
    try:
        leaves = [tasks.sleep(0.001, tasks.const("{}.".format(i))) for i in range(300)]
        future = client.submit_one(tasks.merge(leaves))
        assert future.gather() == "".join("{}.".format(i) for i in range(300)).encode()
        wait_until(lambda: len(client.status()["workers"]) == 1, timeout=10, what="the stalled worker dropped")
    finally:
        stalled.send_signal(signal.SIGCONT)
    client.close()


@pytest.mark.timeout(40)
def test_worker_declared_lost_rejoins_as_a_new_worker_with_nothing(make_cluster, tmp_path):
    cluster = make_cluster(workers=2, cpus=1, worker_args=["--workdir", str(tmp_path)],
                           server_args=["--worker-timeout", "1000"])
    client = Client(*cluster.address)
    # Results on both workers, held by the client.
    futures = client.submit([tasks.merge((tasks.const("r{}-".format(i)), tasks.const(str(i)))) for i in range(100)])
    client.wait(futures)
    before = {w["id"]: w for w in client.status()["workers"]}
    stalled = cluster.workers[0]
    stalled_pid = stalled.pid
    stalled.send_signal(signal.SIGSTOP)
    wait_until(lambda: len(client.status()["workers"]) == 1, timeout=10, what="the stalled worker dropped")
    stalled.send_signal(signal.SIGCONT)
    # It comes back under a new id, with nothing done and holding nothing from before.
    status = wait_until(lambda: (lambda s: s if len(s["workers"]) == 2 else None)(client.status()),
                        timeout=10, what="the worker rejoining")
    assert stalled.poll() is None
    back = [w for w in status["workers"] if w["name"].endswith(":{}".format(stalled_pid))]
    assert len(back) == 1 and back[0]["id"] not in before and back[0]["tasks_done"] == 0
    # Whatever lived only there was recomputed; nothing stale is served, nothing doubled.
    assert client.gather(futures) == ["r{}-{}".format(i, i).encode() for i in range(100)]
    more = client.submit([tasks.merge((tasks.const("s{}-".format(i)), tasks.const(str(i)))) for i in range(100)])
    assert client.gather(more) == ["s{}-{}".format(i, i).encode() for i in range(100)]
    assert len(client.status()["workers"]) == 2
    client.close()


@pytest.mark.timeout(60)
def test_a_rejoined_worker_runs_sleeps_and_programs(make_cluster, tmp_path):
    # The worker process ends its old self by cancelling every task: its new self starts clean.
    _, client, stalled = stalled_first_worker(make_cluster, tmp_path, workers=1)
    wait_until(lambda: not client.status()["workers"], timeout=10, what="the stalled worker dropped")
    stalled.send_signal(signal.SIGCONT)
    wait_until(lambda: len(client.status()["workers"]) == 1, timeout=20, what="the worker rejoining")
    leaves = [tasks.sleep(0.001, tasks.const("{}.".format(i))) for i in range(20)]
    assert client.submit_one(tasks.merge(leaves)).gather() == "".join("{}.".format(i) for i in range(20)).encode()
    assert client.submit_one(tasks.run("echo back")).gather() == b"back\n"
    client.close()


@pytest.mark.timeout(40)
def test_sigterm_worker_ends_its_running_program(make_cluster, tmp_path):
    cluster = make_cluster(workers=1, cpus=1, worker_args=["--workdir", str(tmp_path)])
    client = Client(*cluster.address)
    worker = cluster.workers[0]
    try:
        future = client.submit_one(tasks.run(python_program("import time; time.sleep(25)")))
        wait_until(lambda: client.status()["states"]["running"] == 1, timeout=10, what="the program running")
        assert len(tagged_processes()) == 1
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(5)
        except Exception:
            pytest.fail("the worker did not exit within 5 s of SIGTERM")
        deadline = time.monotonic() + 3
        while tagged_processes() and time.monotonic() < deadline:
            time.sleep(0.05)
        if tagged_processes():
            pytest.fail("the worker's program outlived it")
    finally:
        client.close()
        if worker.poll() is None:
            kill(worker)
        _kill_all(tagged_processes())


@pytest.mark.timeout(30)
def test_idle_worker_exits_when_the_server_dies(make_cluster, tmp_path):
    cluster = make_cluster(workers=1, cpus=1, worker_args=["--workdir", str(tmp_path), "--server-timeout", "1500"])
    worker = cluster.workers[0]
    cluster.server.kill()
    cluster.server.wait(5)
    worker.wait(20)   # it exits after its 1.5 s server timeout; a loaded machine takes longer
    assert not list(tmp_path.iterdir()), "the worker left its work directory behind"


@pytest.mark.timeout(30)
def test_busy_worker_exits_when_the_server_dies(make_cluster, tmp_path):
    cluster = make_cluster(workers=1, cpus=1, worker_args=["--workdir", str(tmp_path), "--server-timeout", "1000"])
    worker = cluster.workers[0]
    client = Client(*cluster.address)
    future = client.submit_one(tasks.sleep(25))  # noqa: F841 - kept, or it is released
    wait_until(lambda: client.status()["states"]["running"] == 1, timeout=10, what="the sleep running")
    client.close()
    cluster.server.kill()
    cluster.server.wait(5)
    try:
        worker.wait(6)
    except Exception:
        pytest.fail("the worker still runs 6 s after its server died")
    finally:
        if worker.poll() is None:
            kill(worker)


@pytest.mark.timeout(60)
def test_a_stopped_worker_leaves_at_once_and_its_tasks_move(make_cluster, tmp_path):
    # SIGTERM is a clean stop: the worker says goodbye, so the server stops counting it now
    # (not after the heartbeat timeout) and re-places what it was running.
    cluster = make_cluster(workers=2, cpus=1, worker_args=["--workdir", str(tmp_path)])
    client = Client(*cluster.address)
    try:
        futures = [client.submit_one(tasks.run(python_program("import time; time.sleep(1.5)")))
                   for _ in range(2)]
        wait_until(lambda: client.status()["states"]["running"] == 2, timeout=10, what="both programs running")
        stopped = cluster.workers[0]
        stopped.send_signal(signal.SIGTERM)
        stopped.wait(5)
        wait_until(lambda: len([w for w in client.status()["workers"] if w.get("alive", True)]) == 1,
                   timeout=30, what="the server counting one worker")
        # at once: because it said it stopped, not after its heartbeats failed
        lost = [e for e in client.trace()["events"] if e["kind"] == "worker_lost"]
        assert len(lost) == 1 and lost[0]["name"].endswith("(stopped)"), lost
        for f in futures:
            f.gather()   # the stopped worker's task ran again on the other one
    finally:
        client.close()


@pytest.mark.timeout(60)
def test_a_killed_workers_program_dies_with_it(make_cluster, tmp_path):
    # SIGKILL leaves the worker no chance to stop its programs: they must not outlive it.
    cluster = make_cluster(workers=1, cpus=1, worker_args=["--workdir", str(tmp_path)])
    client = Client(*cluster.address)
    worker = cluster.workers[0]
    try:
        future = client.submit_one(tasks.run(python_program("import time; time.sleep(25)")))  # noqa: F841 - kept, or it is released
        wait_until(lambda: len(tagged_processes()) == 1, timeout=10, what="the program running")
        kill(worker)
        wait_until(lambda: not tagged_processes(), timeout=3, what="the program ending with its worker")
    finally:
        client.close()
        _kill_all(tagged_processes())


@pytest.mark.timeout(60)
def test_a_new_worker_removes_the_directories_of_killed_workers(make_cluster, tmp_path):
    # A SIGKILLed worker cannot remove its work directory; the next worker on the same root
    # does, and leaves the directories of live workers and whatever is not a worker's alone.
    cluster = make_cluster(workers=2, cpus=1, worker_args=["--workdir", str(tmp_path)])
    victim, survivor = cluster.workers
    victim_dir, survivor_dir = tmp_path / "worker-{}".format(victim.pid), tmp_path / "worker-{}".format(survivor.pid)
    assert victim_dir.is_dir() and survivor_dir.is_dir()
    (victim_dir / "spill").mkdir(exist_ok=True)
    (victim_dir / "spill" / "object").write_bytes(b"x" * 1000)
    kill(victim)
    assert victim_dir.is_dir()
    # A dead worker whose pid now belongs to a live process that started later (this one): its
    # lock is free and older than the process.
    reused = tmp_path / "worker-{}".format(os.getpid())
    reused.mkdir()
    (reused / "lock").touch()
    os.utime(reused / "lock", (1, 1))
    others = [tmp_path / "worker-notapid", tmp_path / "unrelated-{}".format(victim.pid)]
    for d in others:
        d.mkdir()
    newcomer = cluster.add_worker()
    client = Client(*cluster.address)
    # A worker says hello once its directory is made and the dead ones removed.
    wait_until(lambda: any(w["name"].endswith(":{}".format(newcomer.pid)) for w in client.status()["workers"]),
               what="the new worker joining")
    assert (tmp_path / "worker-{}".format(newcomer.pid)).is_dir()
    assert not victim_dir.exists(), "the killed worker's directory is still there"
    assert not reused.exists(), "a dead worker's directory whose pid was reused is still there"
    assert survivor_dir.is_dir() and (survivor_dir / "lock").exists(), "a live worker's directory was touched"
    assert all(d.is_dir() for d in others), "a directory that is no worker's was removed"
    wait_until(lambda: len(client.status()["workers"]) == 2, what="the killed worker declared lost")
    assert_serving(client, workers=2)
