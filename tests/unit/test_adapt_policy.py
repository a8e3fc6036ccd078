"""--adapt's policy over synthetic load sequences: it grows with a burst, shrinks after it, stays
within MIN..MAX, and never flaps (python/treadle/deploy/adapt_policy.py)."""

import pytest

from treadle.deploy.adapt_policy import AdaptPolicy, Load, parse_range


def status(workers, ready=0, task_us=1_000_000):
    """``workers``: [(id, running, queued)]."""
    return {"workers": [{"id": i, "running": r, "queued": q, "task_us": task_us, "cpus": 1} for i, r, q in workers],
            "states": {"ready": ready}}


class Cluster:
    """Plays a scheduler and a server: asked-for jobs start after `start_polls` polls, retired
    workers leave at once; records every decision."""

    def __init__(self, policy, workers=1, start_polls=2):
        self.policy = policy
        self.workers = list(range(workers))
        self.next_id = workers
        self.pending = []          # polls left before each asked-for job runs
        self.start_polls = start_polls
        self.decisions = []
        self.sizes = []

    def poll(self, now, ready, busy=True):
        self.pending = [p - 1 for p in self.pending]
        for _ in [p for p in self.pending if p <= 0]:
            self.workers.append(self.next_id)
            self.next_id += 1
        self.pending = [p for p in self.pending if p > 0]
        per_worker = 1 if busy else 0
        load = Load(status([(w, per_worker, 0) for w in self.workers], ready=ready), len(self.pending))
        d = self.policy.decide(now, load)
        self.decisions.append(d)
        self.pending += [self.start_polls] * d.submit
        del self.pending[:d.cancel_pending]
        self.workers = [w for w in self.workers if w not in d.retire]
        self.sizes.append(len(self.workers) + len(self.pending))
        return d


def direction_changes(sizes):
    steps = [b - a for a, b in zip(sizes, sizes[1:]) if b != a]
    return sum(1 for a, b in zip(steps, steps[1:]) if (a > 0) != (b > 0))


def test_parse_range():
    assert parse_range("1:4") == (1, 4)
    assert parse_range("0:2") == (0, 2)
    for bad in ["4", "4:1", "a:b", "0:0", "-1:3", ""]:
        with pytest.raises(ValueError, match="adapt"):
            parse_range(bad)


def test_a_burst_grows_the_cluster_to_max_and_it_shrinks_back_after():
    c = Cluster(AdaptPolicy(1, 4, target_seconds=5, up_polls=2, idle_seconds=10))
    t = 0
    for _ in range(10):                 # a burst: 100 one-second tasks
        c.poll(t, ready=100)
        t += 1
    assert len(c.workers) == 4 and max(c.sizes) == 4
    for _ in range(30):                 # the burst is over: everyone idle
        c.poll(t, ready=0, busy=False)
        t += 1
    assert len(c.workers) == 1 and not c.pending
    assert direction_changes(c.sizes) == 1   # up once, then down once: no flapping


def test_a_single_poll_spike_does_not_submit():
    c = Cluster(AdaptPolicy(1, 4, up_polls=2))
    c.poll(0, ready=100)
    c.poll(1, ready=0, busy=False)
    c.poll(2, ready=100)
    c.poll(3, ready=0, busy=False)
    assert all(d.submit == 0 for d in c.decisions)


def test_pending_jobs_count_so_a_slow_queue_is_not_asked_again_and_again():
    c = Cluster(AdaptPolicy(1, 4, up_polls=1), start_polls=20)
    for t in range(15):
        c.poll(t, ready=1000)
    assert sum(d.submit for d in c.decisions) == 3   # 1 running + 3 asked = MAX, however long they wait


def test_short_idle_gaps_between_bursts_retire_nobody():
    c = Cluster(AdaptPolicy(1, 3, up_polls=1, idle_seconds=10), start_polls=1)
    t = 0
    for _ in range(5):
        for _ in range(6):      # busy for 6 s
            c.poll(t, ready=100)
            t += 1
        for _ in range(5):      # idle for 5 s, less than idle_seconds
            c.poll(t, ready=0, busy=False)
            t += 1
    assert all(not d.retire for d in c.decisions)
    assert direction_changes(c.sizes) == 0


def test_a_load_that_hovers_at_the_threshold_does_not_flap():
    # 5 s of work per worker is the target: a load oscillating around it must not add and
    # remove workers by turns.
    c = Cluster(AdaptPolicy(1, 4, target_seconds=5, up_polls=3, idle_seconds=10), start_polls=1)
    for t in range(200):
        c.poll(t, ready=5 if t % 2 else 6)
    assert direction_changes(c.sizes) <= 1


def test_never_below_min_nor_above_max_and_pending_jobs_are_cancelled_first():
    p = AdaptPolicy(2, 3, up_polls=1, idle_seconds=0)
    d = p.decide(0, Load(status([(0, 0, 0), (1, 0, 0), (2, 0, 0)]), pending_jobs=2))
    assert d.cancel_pending == 2 and len(d.retire) == 1     # 5 planned, 2 wanted
    d = p.decide(1, Load(status([(0, 0, 0), (1, 0, 0)]), pending_jobs=0))
    assert not d
    d = p.decide(2, Load(status([(0, 1, 0), (1, 1, 0)], ready=10_000), pending_jobs=0))
    assert d.submit == 1 and d.target == 3


def test_unknown_durations_count_half_a_second_and_retiring_workers_do_not_count():
    p = AdaptPolicy(0, 10, target_seconds=5, up_polls=1)
    load = Load({"workers": [{"id": 0, "running": 0, "queued": 0}, {"id": 1, "retiring": True}],
                 "states": {"ready": 40}})
    assert load.task_seconds() == 0.5 and len(load.workers) == 1
    assert p.target(load) == 4   # 40 tasks x 0.5 s / 5 s


def test_cpus_per_worker_divide_the_need():
    p = AdaptPolicy(0, 10, cpus_per_worker=4, target_seconds=5)
    assert p.target(Load(status([], ready=80))) == 2   # 80 x 0.5 s: 8 cpus for 5 s, 2 workers of 4
