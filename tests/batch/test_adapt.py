"""``treadle-cluster start --slurm --adapt MIN:MAX`` on the one-node SLURM cluster: a burst of
tasks makes the loop submit worker jobs up to MAX; once the work is done the idle workers
retire (gracefully: nothing is recomputed) and their jobs end, back to MIN."""

import json
import os

import pytest

import treadle
from tests.conftest import wait_until

pytestmark = pytest.mark.timeout(240)


def nap(i):
    import time
    time.sleep(0.3)
    return i


def test_a_burst_grows_the_cluster_and_it_shrinks_back_after(slurm, slurm_cli):
    slurm_cli.env["TREADLE_ADAPT_IDLE"] = "2"   # the retirement is checked, not its 10 s default wait
    out = slurm_cli("start", "--slurm", "--adapt", "1:3", "--time", "10").stdout
    assert "adapting between 1 and 3 slurm jobs" in out, out
    slurm_cli.wait_for_workers(1)
    client = treadle.Client(slurm_cli.address(), output=None)
    try:
        futures = [client.submit(nap, i) for i in range(80)]   # ~24 s of work for one worker
        grown = wait_until(lambda: (lambda s: s if len(s["workers"]) == 3 else None)(client.status()),
                           timeout=90, interval=0.2, what="the cluster growing to 3 workers")
        assert all("(job " in w["name"] for w in grown["workers"])
        assert client.gather(futures) == list(range(80))
        kept = client.submit(sum, [1, 2, 3])
        assert kept.result() == 6
        # Idle now: the workers above MIN retire after the idle time, and their jobs end.
        wait_until(lambda: len(client.status()["workers"]) == 1, timeout=90, interval=0.2,
                   what="the cluster shrinking back to 1 worker")
        assert kept.result() == 6   # held across the retirements
        events = client.core.connection.trace(100000, kinds=["worker_retired", "worker_lost"])["events"]
        assert [e["kind"] for e in events] == ["worker_retired", "worker_retired"], events
    finally:
        client.close()
    status = slurm_cli.status()
    jobs = status["jobs"]
    assert len(jobs) == 3
    wait_until(lambda: len([j for j in slurm_cli.status()["jobs"].values()
                            if j["state"] and j["state"]["ended"]]) == 2,
               timeout=30, interval=0.5, what="the retired workers' jobs ending")
    assert status["adapt"]["min"] == 1 and status["adapt"]["max"] == 3
    with open(status["adapt"]["log"]) as f:
        log = f.read()
    assert "submitted" in log and "idle for 2 s: retiring" in log, log
    text = slurm_cli("status").stdout
    assert "adapting between 1 and 3 slurm jobs: running" in text, text
    slurm_cli("stop")
    assert slurm.jobs() == []


def test_a_bad_idle_setting_is_refused_before_anything_starts(slurm, slurm_cli):
    slurm_cli.env["TREADLE_ADAPT_IDLE"] = "soon"
    done = slurm_cli("start", "--slurm", "--adapt", "1:3", check=False)
    assert done.returncode == 1, done
    assert done.stderr == "treadle-cluster: $TREADLE_ADAPT_IDLE must be a number of seconds, not 'soon'\n", done.stderr
    assert not os.path.exists(slurm_cli.state_file()) and slurm.jobs() == []
