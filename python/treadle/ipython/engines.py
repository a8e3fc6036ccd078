"""The engines of a cluster, seen from a client: their ids, and commands sent to one of them.

An engine is a Python executor of a worker (runtime.engine), named (worker name, executor
index); its id is an integer from 0, given in the order of the server's workers and kept for
as long as this process talks to that server (ids of lost workers are not given again), so
every client of this process agrees on them.

The scheduler places tasks on workers, and a worker gives a task to its least busy executor:
neither can be told "this executor". So a command for one engine goes as one light copy per
executor of the engine's worker, each with the engine's *anchor* as an input (a result made
on that worker, which locality sends the copies to); the copy that lands on the engine acts,
the others answer "not me", and the copies are sent again until the engine has acted (an
engine acts on a command once). Copies are never cancelled: cancelling a task that runs
kills its executor, which is an engine.
"""

import itertools
import os
import threading
import time

from ..runtime import engine as engine_side
from ..runtime.task_runtime import Ref
from .errors import EngineLost, TaskTimeout

_registries = {}            # server (host, port) -> {(worker, index): engine id}
_registries_lock = threading.Lock()
_command_ids = itertools.count()


class NotPlaced(Exception):
    """A routed command's chooser found no engine for it now (none that qualifies is free): no
    copy of it is in flight, so it can wait in its client and be sent again later."""


class Engines:
    """The engines of the cluster ``connection`` (a ipython.connection.Connection) talks to."""

    def __init__(self, connection):
        self.connection = connection
        with _registries_lock:
            self.ids = _registries.setdefault(tuple(connection.address), {})
        self.live = {}       # engine id -> (worker name, index), as of the last refresh
        self.cpus = {}       # worker name -> its executors
        self.anchors = {}    # worker name -> handle of an Anchor held there
        self.leftovers = []  # copies still running: released once they end, never cancelled
        self.probes = []     # tasks that make anchors, in flight

    # -- which engines exist ---------------------------------------------------------------

    def refresh(self):
        workers = sorted(self.connection.status()["workers"], key=lambda w: w["id"])
        live, cpus = {}, {}
        with _registries_lock:
            for w in workers:
                name = w["name"].split(" ")[0]   # "host:pid", without " (job N)"
                cpus[name] = w["cpus"]
                for index in range(w["cpus"]):
                    key = (name, index)
                    if key not in self.ids:
                        self.ids[key] = len(self.ids)
                    live[self.ids[key]] = key
        self.live, self.cpus = live, cpus
        for gone in [w for w in self.anchors if w not in cpus]:
            self.connection.release([self.anchors.pop(gone)])
        return sorted(live)

    def id_of(self, identity):
        """The id of the engine (worker name, index), or None."""
        identity = tuple(identity)
        if identity not in self.ids:
            self.refresh()
        return self.ids.get(identity)

    def targets(self, targets):
        """The engine ids ``targets`` names: "all", one id, or a list of them."""
        live = self.refresh()
        if targets is None or targets == "all":
            return live
        wanted = [targets] if isinstance(targets, int) else list(targets)
        unknown = [t for t in wanted if t not in self.live]
        if unknown:
            raise ValueError("no engine with id {} (the engines are {})".format(
                ", ".join(map(str, unknown)), live or "none: no worker is connected"))
        return wanted

    # -- anchors: a result on each worker ----------------------------------------------------

    def anchor(self, worker):
        """The handle of an Anchor on ``worker``, or None while probes look for one. Probes are
        cpu tasks, so they spread over the cluster's free cpus; they run when cpus free up."""
        if worker not in self.anchors and worker not in self.cpus:
            raise EngineLost("worker {} left the cluster".format(worker))
        if worker in self.anchors:
            return self.anchors[worker]
        settled = self.connection.settled
        for handle in [h for h in self.probes if h.task_id in settled]:
            self.probes.remove(handle)
            ok = settled.pop(handle.task_id)
            anchor = self.connection.fetch([handle])[0] if ok else None
            name = anchor.engine[0] if anchor is not None else None
            if name is not None and name not in self.anchors and name in self.cpus:
                self.anchors[name] = handle   # kept: the anchor lives while its handle does
            else:
                self.connection.release([handle])
        if worker not in self.anchors and not self.probes:
            count = sum(self.cpus.values()) * 2
            self.probes = self.connection.call([(engine_side.make_anchor, (), {})] * count, "engine probe", 1)
        return self.anchors.get(worker)

    # -- commands ----------------------------------------------------------------------------

    def start(self, engine_id, op, args, timeout=None, chooser=None):
        """A command for one engine, sent; ``step()`` it until ``answer`` is set. ``timeout``:
        seconds (float("inf"): never). ``chooser``: see Command."""
        deadline = time.monotonic() + (timeout or float(os.environ.get("TREADLE_ENGINE_TIMEOUT", "120")))
        return Command(self, engine_id, op, args, deadline, chooser)

    def command(self, engine_id, op, args, timeout=None):
        """Runs ``op`` on engine ``engine_id`` (runtime.engine.command); its answer."""
        return self.commands([engine_id], op, args, timeout)[engine_id]

    def commands(self, engine_ids, op, args, timeout=None):
        """Runs ``op`` on each engine; {engine id: answer}."""
        pending = [self.start(e, op, args, timeout) for e in engine_ids]
        while not all(c.step() for c in pending):
            self.connection.take_settled(0.05)
        return {c.engine_id: c.answer for c in pending}

    def drop_leftovers(self):
        ended = [h for h in self.leftovers if h.task_id in self.connection.settled]
        for h in ended:
            self.leftovers.remove(h)
            self.connection.settled.pop(h.task_id, None)
        self.connection.release(ended)


class Command:
    """One command on its way to one engine (see the module's docstring).

    A copy that fails (rather than answering) ran where the command acted: the engine's
    executor died under it (or it was cancelled); that failure is the command's (``step``
    raises it), never a reason to send it again, which would run the code again. ``chooser``
    (a routed task's): called with the command before each send after the first, when none of
    the copies acted (the engine was busy), it names the engine to try now, or None (NotPlaced).
    """

    def __init__(self, engines, engine_id, op, args, deadline, chooser=None):
        self.engines = engines
        self.engine_id = engine_id
        self.op, self.args = op, args
        self.deadline = deadline
        self.chooser = chooser
        self.command_id = "{}-{}-{}".format(os.getpid(), id(engines), next(_command_ids))
        self.copies = []
        self.sent_worker = None   # the worker the last copies went to
        self.sends = 0
        self.moved = False        # a copy came back from another worker: it may have run on the engine first
        self.answer = None
        self.delay = 0.01
        self.resend_at = 0.0

    def abandon(self):
        """No answer is wanted any more; copies in flight end on their own (never cancelled)."""
        self.engines.leftovers.extend(self.copies)
        self.copies = []

    def send(self):
        engines = self.engines
        if self.engine_id not in engines.live:
            raise EngineLost("engine {} is gone (its worker left the cluster)".format(self.engine_id))
        worker, index = engines.live[self.engine_id]
        anchor = engines.anchor(worker)
        if anchor is None:
            return   # probes are on their way to the engine's worker
        copy = (engine_side.command, (self.command_id, (worker, index), self.op, self.args), {"anchor": Ref(0)})
        # Labelled with the engine: what the code prints shows as "[task N engine 3] ...".
        self.copies = engines.connection.call([copy] * engines.cpus[worker], "engine {}".format(self.engine_id), 0,
                                              inputs=[anchor])
        self.sent_worker = worker
        self.sends += 1

    def step(self):
        """Takes the copies' answers in; sends them again if none acted. True once answered."""
        if self.answer is not None:
            return True
        connection = self.engines.connection
        cancelled = next((h for h in self.copies if h.cancelled()), None)
        if cancelled is not None:   # by the kernel (an interrupt, %treadle stop): no answer comes
            self.copies = [h for h in self.copies if not h.cancelled()]
            self.abandon()
            raise cancelled.cancelled_error("engine {}".format(self.engine_id))
        if not self.copies:
            if time.monotonic() < self.resend_at:
                return False
            if time.monotonic() > self.deadline:
                raise TaskTimeout("engine {}: command {} timed out (the engine stayed busy)".format(
                    self.engine_id, self.op))
            if self.moved and self.engine_id not in self.engines.live:
                # Its worker died with a copy on it, which the server ran elsewhere: it may have
                # been running on the engine.
                raise EngineLost("engine {} is gone (its worker left the cluster)".format(self.engine_id))
            self.moved = False
            if self.chooser is not None and self.sends:
                engine = self.chooser(self)
                if engine is None:
                    raise NotPlaced()
                self.engine_id = engine
            self.send()
        failure = None
        for h in [h for h in self.copies if h.task_id in connection.settled]:
            self.copies.remove(h)
            value, failed = connection.outcome(h)
            if failed is not None:
                failure = failure or failed
            elif value.get("acted"):
                self.answer = value
            elif tuple(value["engine"])[0] != self.sent_worker:
                self.moved = True
        if failure is not None and self.answer is None:
            self.abandon()
            raise failure
        if self.answer is not None:
            self.engines.leftovers.extend(self.copies)   # never cancelled: released once they end
            self.copies = []
            self.engines.drop_leftovers()
            return True
        if not self.copies:   # none landed on the engine (it is busy): again, a little later
            self.resend_at = time.monotonic() + self.delay
            self.delay = min(self.delay * 2, 0.5)
            self.engines.refresh()
        return False
