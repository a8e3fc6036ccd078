"""The ``--adapt MIN:MAX`` loop: polls the server, asks the batch scheduler for worker jobs
when the work outgrows the workers, retires idle workers (gracefully: they hand their objects
off first) and cancels jobs still waiting in the queue when the work is gone. The policy is
``adapt_policy.AdaptPolicy``; this is its plumbing, shared by ``treadle-cluster start --adapt``
(a detached process, ``python3 -m treadle.deploy adapt-loop``) and ``%treadle workers
--adapt`` (a thread of the kernel).

Retiring a batch worker ends its job: the job runs ``exec treadle-worker``, which exits when
the server tells it to stop.
"""

import os
import threading
import time

from .adapt_policy import AdaptPolicy, Load
from .worker_jobs import job_of_worker

__all__ = ["Adapter", "idle_seconds", "retire_idlest"]

IDLE_SECONDS = 10.0   # how long a worker stays idle before it may retire, unless $TREADLE_ADAPT_IDLE says


def idle_seconds():
    """$TREADLE_ADAPT_IDLE (seconds), else 10; ValueError for anything but a number >= 0."""
    value = os.environ.get("TREADLE_ADAPT_IDLE", "")
    if not value.strip():
        return IDLE_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:   # also NaN
        raise ValueError("$TREADLE_ADAPT_IDLE must be a number of seconds, not {!r}".format(value))
    return seconds


def retire_idlest(connection, count):
    """Retires the ``count`` workers with the least work (running + queued); returns their names."""
    workers = [w for w in connection.status()["workers"] if not w.get("retiring")]
    workers.sort(key=lambda w: (w.get("running", 0) + w.get("queued", 0), -w["id"]))
    chosen = [w["id"] for w in workers[:count]]
    return connection.retire(chosen) if chosen else []


class Adapter:
    """``connection``: a core Connection to the server; ``jobs``: a WorkerJobs-like object
    made by ``submit(n)`` calls (``submit(n) -> [ids]``, ``states(ids)``, ``cancel(ids)``);
    ``say``: where to report each action (one line each)."""

    def __init__(self, connection, policy, submit, states, cancel, job_ids=(), say=print, interval=1.0,
                 on_submitted=None):
        self.connection = connection
        self.policy = policy
        self._submit, self._states, self._cancel = submit, states, cancel
        self.job_ids = list(job_ids)
        self.say = say
        self.interval = interval
        self.on_submitted = on_submitted   # called with the new job ids (a state file records them)
        self.history = []                  # (time, decision) of every decision that did something
        self._stop = threading.Event()
        self._thread = None

    def pending_jobs(self, status):
        """Jobs asked for whose worker has not joined and that have not ended."""
        joined = {job_of_worker(w.get("name")) for w in status.get("workers", [])}
        waiting = [j for j in self.job_ids if j not in joined]
        if not waiting:
            return []
        states = self._states(waiting)
        return [j for j in waiting if j in states and not states[j].ended]

    def poll(self, now=None):
        now = time.monotonic() if now is None else now
        status = self.connection.status()
        pending = self.pending_jobs(status)
        decision = self.policy.decide(now, Load(status, len(pending)))
        if decision.submit:
            ids = list(self._submit(decision.submit))
            self.job_ids += ids
            if self.on_submitted:
                self.on_submitted(ids)
            self.say("adapt: {} tasks waiting -> {} worker{} wanted: submitted {}".format(
                Load(status).queued_tasks(), decision.target, "" if decision.target == 1 else "s", " ".join(ids)))
        if decision.cancel_pending:
            newest = pending[-decision.cancel_pending:]
            self._cancel(newest)
            self.say("adapt: the work needs {} worker{}: cancelled pending job{} {}".format(
                decision.target, "" if decision.target == 1 else "s", "" if len(newest) == 1 else "s",
                " ".join(newest)))
        if decision.retire:
            names = self.connection.retire(decision.retire)
            self.say("adapt: idle for {:g} s: retiring {}".format(self.policy.idle_seconds, ", ".join(names)))
        if decision:
            self.history.append((now, decision))
        return decision

    def run(self):
        """Polls every ``interval`` s until ``stop()``; a failed poll is reported and retried."""
        while not self._stop.is_set():
            try:
                self.poll()
            except Exception as e:  # the server restarting, a scheduler command failing: try again
                self.say("adapt: {}".format(e))
            self._stop.wait(self.interval)

    def start(self):
        self._thread = threading.Thread(target=self.run, name="treadle-adapt", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)


def policy_for(minimum, maximum, cpus=1, **kwargs):
    kwargs.setdefault("idle_seconds", idle_seconds())
    return AdaptPolicy(minimum, maximum, cpus_per_worker=cpus, **kwargs)
