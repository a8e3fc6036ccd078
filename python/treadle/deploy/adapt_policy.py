"""When to ask the batch scheduler for more workers, and which idle workers to give back: the
policy of ``--adapt MIN:MAX``, as pure logic (no server, no scheduler, no clock), so its
behaviour over a sequence of loads is unit-tested (tests/batch/test_adapt_policy.py).

It follows dask's ``Adaptive`` (distributed.deploy.adaptive): the cluster should finish the
work it has in about ``target_seconds``; the work is estimated as the tasks ready or queued
times their recent duration (0.5 s while no task has finished yet, as dask's default for
unknown tasks). Hysteresis keeps it from flapping:

* up: more workers are asked for only when the estimate has called for them on ``up_polls``
  polls in a row, and jobs already asked for (pending in the queue) count as workers;
* down: only a worker idle (nothing running or queued there) for ``idle_seconds`` without a
  break may go, only while the estimate wants fewer workers than there are, never below
  ``minimum``; jobs still pending are cancelled first, before running workers retire.
"""

import math

__all__ = ["AdaptPolicy", "Decision", "Load", "parse_range"]

UNKNOWN_TASK_SECONDS = 0.5


def parse_range(text):
    """``"1:4"`` -> ``(1, 4)``; ValueError for anything else (MIN >= 0, MAX >= max(MIN, 1))."""
    lo, sep, hi = str(text).partition(":")
    if not sep or not lo.strip().isdigit() or not hi.strip().isdigit():
        raise ValueError("--adapt takes MIN:MAX worker counts, like 1:4, not {!r}".format(text))
    lo, hi = int(lo), int(hi)
    if hi < 1 or hi < lo:
        raise ValueError("--adapt {}: MAX must be at least 1 and at least MIN".format(text))
    return lo, hi


class Load:
    """What the server says at one poll: its ``status()`` (workers with running, queued,
    task_us and retiring; task counts by state) and how many jobs wait in the scheduler's queue."""

    def __init__(self, status, pending_jobs=0):
        self.workers = [w for w in status.get("workers", []) if not w.get("retiring")]
        self.ready = status.get("states", {}).get("ready", 0)
        self.pending_jobs = pending_jobs

    def queued_tasks(self):
        return self.ready + sum(w.get("queued", 0) + w.get("running", 0) for w in self.workers)

    def task_seconds(self):
        known = [w["task_us"] / 1e6 for w in self.workers if w.get("task_us")]
        return sum(known) / len(known) if known else UNKNOWN_TASK_SECONDS


class Decision:
    """``submit``: jobs to ask for; ``cancel_pending``: pending jobs to cancel; ``retire``: ids
    of workers to retire; ``target``: the worker count the load asks for."""

    def __init__(self, target, submit=0, cancel_pending=0, retire=()):
        self.target = target
        self.submit = submit
        self.cancel_pending = cancel_pending
        self.retire = list(retire)

    def __bool__(self):
        return bool(self.submit or self.cancel_pending or self.retire)

    def __repr__(self):
        return "<Decision target {} submit {} cancel {} retire {}>".format(
            self.target, self.submit, self.cancel_pending, self.retire)


class AdaptPolicy:
    def __init__(self, minimum, maximum, cpus_per_worker=1, target_seconds=5.0, up_polls=2, idle_seconds=10.0):
        if not 0 <= minimum <= maximum or maximum < 1:
            raise ValueError("adapt: need 0 <= MIN <= MAX and MAX >= 1, not {}:{}".format(minimum, maximum))
        self.minimum, self.maximum = minimum, maximum
        self.cpus_per_worker = max(1, cpus_per_worker)
        self.target_seconds = target_seconds
        self.up_polls = up_polls
        self.idle_seconds = idle_seconds
        self._up_streak = 0
        self._idle_since = {}   # worker id -> when it was first seen idle (this idle spell)

    def target(self, load):
        """Workers the load asks for, within MIN..MAX."""
        work = load.queued_tasks() * load.task_seconds()
        cpus = work / self.target_seconds
        wanted = math.ceil(cpus / self.cpus_per_worker - 1e-9) if cpus > 0 else 0
        return max(self.minimum, min(self.maximum, wanted))

    def decide(self, now, load):
        """The Decision for the poll at ``now`` (seconds, any monotonic clock)."""
        target = self.target(load)
        planned = len(load.workers) + load.pending_jobs
        self._track_idle(now, load)
        if target > planned:
            self._up_streak += 1
            if self._up_streak >= self.up_polls:
                self._up_streak = 0
                return Decision(target, submit=target - planned)
            return Decision(target)
        self._up_streak = 0
        if target >= planned:
            return Decision(target)
        excess = planned - target
        cancel = min(excess, load.pending_jobs)
        excess -= cancel
        long_idle = sorted((since, wid) for wid, since in self._idle_since.items()
                           if now - since >= self.idle_seconds)
        retire = [wid for _, wid in long_idle[:excess]]
        for wid in retire:
            del self._idle_since[wid]   # asked once; it leaves status when it stopped
        return Decision(target, cancel_pending=cancel, retire=retire)

    def _track_idle(self, now, load):
        present = set()
        for w in load.workers:
            present.add(w["id"])
            if w.get("running", 0) or w.get("queued", 0):
                self._idle_since.pop(w["id"], None)
            else:
                self._idle_since.setdefault(w["id"], now)
        for wid in list(self._idle_since):
            if wid not in present:
                del self._idle_since[wid]
