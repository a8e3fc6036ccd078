"""IPython tasks move on while nobody calls the TaskClient (docs/ipython.md, "Dependencies"):
routed (``depend``) tasks queued behind busy engines, their retries and recovery tasks, a
load-balanced task's retries. Each test submits, then waits *outside* treadle (files the tasks
write) with no call to the client, and only then looks at the results. Real server, 2 workers
(1 cpu each: 2 engines), executors."""

import os
import signal
import threading

import pytest

from tests.conftest import run_script, wait_until
from treadle.ipython import client

N = 8   # tasks: 4 per engine


def logging_code(log, name, then=""):
    """Code that appends ``name`` and this engine's worker pid to ``log``, sleeps a little (so
    the tasks overlap and queue), then runs ``then``."""
    return ("import os, time\nopen({!r}, 'a').write('%s %d\\n' % ({}, os.getppid()))\ntime.sleep(0.05)\n"
            .format(str(log), name) + then)


def lines(log):
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def names(log):
    return sorted(int(n) for n, _ in lines(log))


@pytest.fixture
def tc(make_cluster):
    cluster = make_cluster(workers=2, cpus=1)
    tc = client.TaskClient(cluster.address)
    tc.cluster = cluster
    yield tc
    tc.close()


def mover_threads():
    return [t for t in threading.enumerate() if t.name == "treadle-ipython-mover"]


@pytest.mark.timeout(120)
def test_routed_tasks_all_run_with_no_call_to_the_client(tc, tmp_path):
    log = tmp_path / "runs"
    ids = [tc.run(client.Task(logging_code(log, "n"), push={"n": i}, pull="n", depend=lambda p: True))
           for i in range(N)]
    # No call to tc: the engines free up and the queued tasks go on by themselves.
    wait_until(lambda: len(lines(log)) >= N, timeout=60, what="every routed task ran")
    tc.barrier(ids)
    assert names(log) == list(range(N))   # each once: none sent twice, none lost
    results = [tc.get_task_result(i) for i in ids]
    assert [r.ns.n for r in results] == list(range(N)) and all(r.attempts == 1 for r in results)
    assert len({pid for _, pid in lines(log)}) == 2   # both engines took tasks
    wait_until(lambda: not mover_threads(), what="the mover ended once nothing was left to move")


@pytest.mark.timeout(120)
def test_failing_routed_tasks_retry_and_recover_with_no_call(tc, tmp_path):
    """Among healthy routed tasks, one fails once (its retry runs), one always fails (its
    recovery task runs, routed too), one fails for good: all settle with nobody calling."""
    log, marker = tmp_path / "runs", tmp_path / "failed-once"
    depend = lambda p: True   # noqa: E731
    healthy = [tc.run(client.Task(logging_code(log, "n"), push={"n": i}, depend=depend)) for i in range(4)]
    once = tc.run(client.Task(logging_code(log, "10", "if not os.path.exists({0!r}):\n"
                                                     "    open({0!r}, 'w').close()\n"
                                                     "    raise ValueError('first run')\n".format(str(marker))),
                              retries=1, depend=depend))
    recovery = client.Task(logging_code(log, "21", "r = 'recovered'"), pull="r", depend=depend)
    recovered = tc.run(client.Task(logging_code(log, "20", "1/0"), retries=1, recovery_task=recovery, depend=depend))
    lost = tc.run(client.Task(logging_code(log, "30", "raise KeyError('always')"), depend=depend))
    # 4 healthy, 2 runs of "once", 2 of the failing one and its recovery task, 1 that fails.
    expected = [0, 1, 2, 3, 10, 10, 20, 20, 21, 30]
    wait_until(lambda: names(log) == expected, timeout=60, what="every run, retry and recovery")
    tc.barrier(healthy + [once, recovered, lost])
    assert names(log) == expected
    assert all(tc.get_task_result(i).failure is None for i in healthy)
    r = tc.get_task_result(once)
    assert r.failure is None and r.attempts == 2
    r = tc.get_task_result(recovered)
    assert r.failure is None and r.ns.r == "recovered" and r.recovered_by == 1 and r.attempts == 3
    with pytest.raises(KeyError):
        tc.get_task_result(lost).raise_exception()


@pytest.mark.timeout(120)
def test_a_load_balanced_retry_runs_with_no_call(tc, tmp_path):
    """Without depend too: a failed run's retry is sent with nobody calling."""
    log, count = tmp_path / "runs", tmp_path / "count"
    code = logging_code(log, "0", "c = len(open({0!r}).read()) if os.path.exists({0!r}) else 0\n"
                                  "open({0!r}, 'a').write('x')\n"
                                  "if c < 2:\n    raise RuntimeError('run %d' % c)\n".format(str(count)))
    tid = tc.run(client.Task(code, retries=2))
    wait_until(lambda: len(lines(log)) == 3, timeout=60, what="the task and its two retries ran")
    r = tc.get_task_result(tid, block=True)
    assert r.failure is None and r.attempts == 3


@pytest.mark.timeout(120)
def test_routed_tasks_move_on_after_a_worker_is_killed(tc, tmp_path):
    """A worker killed while routed tasks wait: its running task's retry and the queued ones
    run on the engine left, with nobody calling."""
    log, flag = tmp_path / "runs", tmp_path / "go"
    code = logging_code(log, "n", "while not os.path.exists({!r}):\n    time.sleep(0.01)\n".format(str(flag)))
    ids = [tc.run(client.Task(code, push={"n": i}, pull="n", retries=1, depend=lambda p: True)) for i in range(6)]
    wait_until(lambda: len(lines(log)) == 2, timeout=60, what="two routed tasks running")
    victim_pid = int(lines(log)[0][1])
    victim = next(w for w in tc.cluster.workers if w.pid == victim_pid)
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    flag.touch()
    # The one that ran on the dead worker runs again: 7 runs, every task among them.
    wait_until(lambda: len(lines(log)) == 7, timeout=60, what="the retry and the queued tasks ran")
    assert sorted(set(names(log))) == list(range(6))
    results = [tc.get_task_result(i, block=True) for i in ids]
    assert [r.failure for r in results] == [None] * 6, results
    assert sorted(r.attempts for r in results) == [1, 1, 1, 1, 1, 2]


@pytest.mark.timeout(120)
def test_a_raising_depend_and_an_aborted_queued_task(tc, tmp_path):
    """depend raises on engines without the property ("not here"): the tasks go to the one that
    has it, in turn; a queued task aborted meanwhile never runs."""
    log, flag = tmp_path / "runs", tmp_path / "go"
    mec = client.MultiEngineClient(tc.address)
    try:
        e, _ = mec.get_ids()
        mec.set_properties({"ok": True}, targets=e)
    finally:
        mec.close()
    code = logging_code(log, "n", "while not os.path.exists({!r}):\n    time.sleep(0.01)\n".format(str(flag)))
    ids = [tc.run(client.Task(code, push={"n": i}, pull="n", depend=lambda p: p["ok"])) for i in range(5)]
    wait_until(lambda: len(lines(log)) == 1, timeout=60, what="the first task running")
    tc.abort(ids[2])
    flag.touch()
    wait_until(lambda: len(lines(log)) == 4, timeout=60, what="the tasks not aborted ran")
    results = [tc.get_task_result(i, block=True) for i in ids]
    assert names(log) == [0, 1, 3, 4]
    assert isinstance(results[2].failure, client.TaskAborted)
    assert {r.engineid for i, r in enumerate(results) if i != 2} == {e}


@pytest.mark.timeout(60)
def test_close_ends_the_mover_with_tasks_queued(tc, tmp_path):
    flag = tmp_path / "go"
    code = "import os, time\nwhile not os.path.exists({!r}):\n    time.sleep(0.01)\n".format(str(flag))
    for _ in range(4):
        tc.run(client.Task(code, depend=lambda p: True))
    wait_until(mover_threads, what="the mover running")
    tc.close()
    assert not mover_threads()
    flag.touch()


@pytest.mark.timeout(120)
def test_a_script_that_never_calls_the_client_again(make_cluster, tmp_path):
    """The user's path: a script runs routed tasks, sleeps, finds them all done, and exits with
    tasks' mover still around (no close): no hang, nothing printed at exit."""
    cluster = make_cluster(workers=2, cpus=1)
    log = tmp_path / "runs"
    script = (
        "import os, time\n"
        "from treadle.ipython import client\n"
        "tc = client.TaskClient({address!r})\n"
        "for i in range({n}):\n"
        "    tc.run(client.Task({code!r}, push={{'n': i}}, depend=lambda p: True))\n"
        "deadline = time.monotonic() + 60\n"
        "while time.monotonic() < deadline:\n"
        "    if os.path.exists({log!r}) and len(open({log!r}).read().split()) == 2 * {n}:\n"
        "        break\n"
        "    time.sleep(0.05)\n"
        "print('ran', len(open({log!r}).read().split()) // 2)\n"
        # More queued as it exits: the mover is busy then.
        "for i in range(4):\n"
        "    tc.run(client.Task('import time; time.sleep(1)', depend=lambda p: True))\n"
    ).format(address=cluster.address, n=N, code=logging_code(log, "n"), log=str(log))
    out = run_script(script, timeout=90)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["ran", str(N)], out.stdout
    assert out.stderr == ""
