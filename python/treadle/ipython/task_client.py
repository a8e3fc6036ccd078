"""IPython's ``TaskClient``: tasks farmed out to the engines, load-balanced by the scheduler
(or routed by their ``depend`` to an engine whose properties suit them), retried, recovered,
aborted, and their results kept by integer ids from 0."""

import sys
import threading
import time
import weakref

from ..core import hooks
from ..core.errors import LoomException, TaskCancelled
from ..runtime import engine as engine_side
from ..runtime import task_clients
from .address import resolve_address
from .connection import Connection, pulled, rebuild_failure
from .engines import Engines, NotPlaced
from .errors import TaskAborted
from .mover import Mover
from .push import packed
from .task import Task, TaskResult

_clients = weakref.WeakSet()   # TaskClients of this process: told when engine properties change
_FLUSH_DELAY = 0.005   # seconds between the first unsent task and sending it (as the native API)
_FLUSH_LIMIT = 1024    # unsent tasks that are sent at once
_NO_ENGINES_AFTER = 2.0   # seconds a wait lasts before it looks whether the cluster has any engine


def properties_changed(address):
    """A MultiEngineClient of this process set properties on the engines of ``address``: the
    TaskClients there try their waiting tasks again (as ``spin()`` does)."""
    for client in list(_clients):
        if tuple(client.address) == tuple(address):
            client.forget_properties()


class _Record:
    """One task run() took: its recovery chain, where it is in it, and how it went."""

    def __init__(self, taskid, chain):
        self.taskid = taskid
        self.chain = chain          # [(code, pull, push, clear_before, clear_after, retries, depend)]
        self.position = 0
        self.attempt = 0
        self.attempts = 0
        self.handle = None          # a load-balanced run in flight
        self.command = None         # a run routed to one engine, in flight
        self.waiting = False        # no engine satisfies its depend (yet)
        self.result = None
        self.submitted = time.time()
        self.cells = None           # hooks.submit_deferred's tokens: whose call it is (a notebook cell)

    @property
    def done(self):
        return self.result is not None


class TaskClient:
    """Runs Tasks on the engines of the cluster at ``address``: an ``(ip, port)`` tuple, a
    "host:port" string, or ``client.default_task_address``."""

    def __init__(self, address=None, secret=None):
        host, port = resolve_address(address)
        # Inside a task, the secret the executor was given (clients made there are closed with it).
        self.connection = Connection.to(host, port, secret=secret or task_clients.secret())
        self.address = self.connection.address
        self.engines = Engines(self.connection)
        self._records = []
        self._by_task = {}          # treadle task id -> record
        self._properties = None     # engine id -> properties, for depend; None: ask again
        self._asking = None         # engine id -> Command asking its properties, in flight
        self._unsent = []           # load-balanced runs not sent yet: sent together, in one plan
        self._routed = set()        # records with a Command in flight
        self._waiting = {}          # taskid -> record waiting for an engine that its depend allows
        self._recoverable = set()   # records whose load-balanced run is in flight and would run again if it failed
        self._timer = None
        self._said_no_engines = False
        self._lock = threading.RLock()   # the caller's thread, the flush timer's and the mover's
        # Moves routed tasks, resends and retries on while nobody calls the client.
        self._mover = Mover(self._lock, self._needs_moving, self._move, self.connection.take_settled)
        _clients.add(self)
        hooks.defers_calls(self)

    # -- submitting ---------------------------------------------------------------------------

    def run(self, task):
        """Submits ``task``; returns its id (0, 1, 2... per client)."""
        if not isinstance(task, Task):
            raise TypeError("run() takes a Task, not {}".format(type(task).__name__))
        chain = []
        for t in task.recovery_chain():   # refuses a loop
            code, pull, push = t.checked()
            chain.append((code, pull, packed(push), bool(t.clear_before), bool(t.clear_after), t.retries, t.depend))
        cells = hooks.submit_deferred(self.connection) if hooks.listeners else None
        with self._lock:
            record = _Record(len(self._records), chain)
            record.cells = cells   # its sends (a flush timer's, a retry's) are this cell's
            self._records.append(record)
            self._dispatch(record)
            self._mover.ensure()
            return record.taskid

    def _dispatch(self, record):
        try:
            self._send_or_queue(record)
        except Exception as error:
            self._give_up([record], error)
            raise

    def _give_up(self, records, error):
        """Records whose run could not be sent, or whose outcome could not be taken in: each
        is failed with the reason, so no wait is left waiting for it (nothing else would end it)."""
        for record in records:
            if not record.done:
                self._set_waiting(record, False)
                record.result = TaskResult(record.taskid, {}, None, record.submitted, time.time(), failure=error,
                                           attempts=record.attempts, recovered_by=record.position)

    def _send_or_queue(self, record):
        code, pull, push, clear_before, clear_after, _, depend = record.chain[record.position]
        args = (code, push, pull, clear_before, clear_after)
        if depend is None:
            record.attempts += 1
            self._unsent.append((record, args))
            if len(self._unsent) >= _FLUSH_LIMIT:
                self._flush()
            elif self._timer is None:
                self._timer = threading.Timer(_FLUSH_DELAY, self._flush_from_timer)
                self._timer.daemon = True
                self._timer.start()
            return
        engine = self._choose(depend, record)
        self._set_waiting(record, engine is None)
        if engine is not None:
            record.attempts += 1
            with hooks.sending_deferred(record.cells):
                # No timeout: it waits for an engine as long as IPython's queue did; while its
                # engine is busy, each resend may choose another free one (_choose).
                record.command = self.engines.start(engine, "task", args, timeout=float("inf"),
                                                    chooser=lambda command: self._choose(depend, record))
            self._routed.add(record)

    def _set_waiting(self, record, waiting):
        record.waiting = waiting
        if waiting:
            self._waiting[record.taskid] = record
        else:
            self._waiting.pop(record.taskid, None)

    def _schedule_waiting(self):
        """Tasks waiting for an engine try again, oldest first (an engine freed up, or answered)."""
        for record in sorted(self._waiting.values(), key=lambda r: r.taskid):
            if record.waiting and not record.done:
                self._dispatch(record)

    def _flush(self):
        """Sends the load-balanced runs not sent yet, in one plan."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            unsent, self._unsent = self._unsent, []
            start = 0
            while start < len(unsent):
                # One plan per run of calls of the same cell: each is filed under its own.
                end = start + 1
                while end < len(unsent) and hooks.same_deferred(unsent[end][0].cells, unsent[start][0].cells):
                    end += 1
                batch = unsent[start:end]
                try:
                    with hooks.sending_deferred(batch[0][0].cells):
                        handles = self.connection.call([(engine_side.run_task, args, {}) for _, args in batch],
                                                       ["Task {}".format(r.taskid) for r, _ in batch], 1)
                except Exception as error:
                    self._give_up([record for record, _ in unsent[start:]], error)
                    raise
                for (record, _), handle in zip(batch, handles):
                    record.handle = handle
                    self._by_task[handle.task_id] = record
                    if _runs_again_if_it_fails(record):
                        self._recoverable.add(record)
                start = end
            if self._recoverable:
                self._mover.ensure()

    def send_deferred(self):
        """The runs held back for the flush timer, sent now (hooks.send_deferred: before a cancel)."""
        if self._unsent:
            self._flush()

    def cancel_deferred(self, listener, owners, reason):
        """Routed tasks of ``owners`` (``listener``'s submit_deferred tokens: notebook cells
        interrupted, or every cell at %treadle stop) that wait here, with no copy in flight, end
        as cancelled (hooks.cancel_deferred); those with copies in flight end when the cancel of
        their copies comes in."""
        with self._lock:
            ending = []
            for record in list(self._waiting.values()) + list(self._routed):
                token = next((t for owner, t in record.cells or () if owner is listener), None)
                if token is not None and any(token is o for o in owners) and not record.done and \
                        (record.command is None or not record.command.copies):
                    ending.append(record)
                    self._set_waiting(record, False)   # not sent by an abort's rescheduling below
            for record in ending:
                self._abort(record, _cancelled(record, TaskCancelled(None, reason)))

    def _flush_from_timer(self):
        try:
            self._flush()
        except Exception:
            pass   # the next call that waits sends them again and reports the error

    def _choose(self, depend, record):
        """An engine for ``record``: one whose properties satisfy ``depend`` and that runs no
        other task of this client routed to it (an engine runs one at a time: the others wait
        here, as in IPython's queue, and go to whichever engine frees first); another one than
        the record's current engine if it can (that one stayed busy). None if none does now (an
        exception in ``depend`` means "not here"), or while no engine's properties came in."""
        if self._properties is None:
            self._ask_properties()
            return None
        taken = {r.command.engine_id for r in self._routed if r is not record}
        fits = []
        for engine, properties in sorted(self._properties.items()):
            if engine in taken or engine not in self.engines.live:
                continue
            try:
                if depend(dict(properties)):
                    fits.append(engine)
            except Exception:
                pass
        if not fits:
            return None
        current = record.command.engine_id if record.command is not None else None
        return min(fits, key=lambda e: e == current)

    def _ask_properties(self):
        """Asks every engine for its properties, without waiting. A busy engine answers when
        it frees (no timeout: a task may wait for it as long as it is busy)."""
        if self._asking is None:
            self._asking = {e: self.engines.start(e, "get_properties", None, timeout=float("inf"))
                            for e in self.engines.targets("all")}

    def _take_properties(self):
        """The engines' answers, as they come: each one lets the waiting tasks try that engine."""
        if self._asking is None:
            return
        answered = False
        for engine, command in list(self._asking.items()):
            try:
                if not command.step():
                    continue
                if self._properties is None:
                    self._properties = {}
                self._properties[engine] = command.answer.get("value") or {}
                answered = True
            except LoomException:   # a lost engine: not a candidate
                pass
            del self._asking[engine]
        if not self._asking:
            self._asking = None
        if answered:
            self._schedule_waiting()

    def _engine_replaced(self):
        """An engine's executor may have been replaced (it died under a task, or an abort ended
        it): its properties went with it, so depend looks at the engines' properties anew."""
        if self._properties is not None:
            self.forget_properties()

    # -- progress --------------------------------------------------------------------------------

    def _pump(self, timeout=0.0):
        """Takes in what ended, retries, recovers; waits up to ``timeout`` s for news first."""
        with self._lock:
            self._flush()
            self.connection.take_settled(timeout)
            self._take_properties()
            for record in [r for r in self._by_task.values() if r.handle.cancelled()]:
                self._abort(record, _cancelled(record, record.handle.cancelled_error()))
            ended = [t for t in self._by_task if t in self.connection.settled]
            records = [self._by_task.pop(t) for t in ended]
            handles = [r.handle for r in records]
            for record in records:
                record.handle = None
                self._recoverable.discard(record)
            try:
                outcomes = self.connection.outcomes(handles)
            except Exception as error:
                self._give_up(records, error)
                raise
            raised = None
            for record, (answer, failure) in zip(records, outcomes):
                try:
                    self._ended(record, answer, failure)   # a retry that cannot be sent fails its record
                except Exception as error:
                    raised = raised or error                # the others are still taken in
            if raised is not None:
                raise raised
            freed = False
            for record in sorted(self._routed, key=lambda r: r.taskid):
                if record not in self._routed:
                    continue   # dispatched again by _schedule_waiting below
                try:
                    with hooks.sending_deferred(record.cells):   # a resend is the submitting cell's
                        answered = record.command.step()
                except TaskCancelled as error:
                    self._abort(record, _cancelled(record, error))
                    freed = True
                    continue
                except NotPlaced:   # none acted, and no engine it may use is free: it waits here
                    self._routed.discard(record)
                    record.command = None
                    record.attempts -= 1
                    self._set_waiting(record, True)
                    continue
                except LoomException as error:   # its engine died under it (a try), or was lost
                    self._routed.discard(record)
                    record.command = None
                    self._ended(record, None, error)
                    freed = True
                    continue
                if answered:
                    self._routed.discard(record)
                    answer, record.command = record.command.answer, None
                    self._ended(record, answer, None)
                    freed = True
            if freed and self._waiting:
                self._schedule_waiting()
            self._mover.ensure()

    # -- moving on while nobody calls (mover.py) ------------------------------------------------

    def _needs_moving(self):
        """True while something here moves only if the client acts: a routed command in flight
        (its answer frees an engine for a waiting task; a busy engine's command is sent again), the
        engines' properties being asked, a load-balanced run that would run again if it failed.
        Tasks that wait while none of that is under way wait for the user (spin, set_properties)."""
        return not self.connection.closed and bool(self._routed or self._asking or self._recoverable)

    def _move(self, ended):
        """The mover's step (under the lock): takes in what ended, sends what can go; returns the
        seconds until a command is due to be sent again (at most ~0.25 s are waited), or None
        when nothing is left to move. ``ended``: ids of tasks the mover heard end."""
        if not self._needs_moving():
            return None
        # Load-balanced runs are taken in by the next call that waits for them, all in one
        # fetch; only those that may be due for a retry or a recovery task are taken in now
        # (whether the code failed is in the answer: the native task finished either way).
        if self._routed or self._asking or any(self._by_task.get(t) in self._recoverable for t in ended):
            self._pump()
        if not self._needs_moving():
            return None
        commands = [r.command for r in self._routed] + list((self._asking or {}).values())
        due = [c.resend_at for c in commands if not c.copies]
        return max(min(due) - time.monotonic(), 0.001) if due else float("inf")

    def _ended(self, record, answer, failure):
        if answer is not None and answer["ok"]:
            record.result = TaskResult(record.taskid, pulled(answer, "results"), self.engines.id_of(answer["engine"]),
                                       record.submitted, time.time(), attempts=record.attempts,
                                       recovered_by=record.position)
            return
        engineid = None
        if answer is not None:
            engineid = self.engines.id_of(answer["engine"])
            failure = rebuild_failure(answer, "Task {} on engine {}".format(record.taskid, engineid))
        else:
            self._engine_replaced()   # no answer: the engine's executor died under it, or its worker did
        retries = record.chain[record.position][5]
        if record.attempt < retries:
            record.attempt += 1
        elif record.position + 1 < len(record.chain):
            record.position += 1     # the retries are spent: the recovery task runs instead
            record.attempt = 0
        else:
            record.result = TaskResult(record.taskid, {}, engineid, record.submitted, time.time(), failure=failure,
                                       attempts=record.attempts, recovered_by=record.position)
            return
        self._dispatch(record)

    def _record(self, taskid):
        if isinstance(taskid, bool) or not isinstance(taskid, int) or not 0 <= taskid < len(self._records):
            raise IndexError("no task with id {!r} (this client's ids are 0..{})".format(taskid, len(self._records) - 1))
        return self._records[taskid]

    # -- results ---------------------------------------------------------------------------------

    def get_task_result(self, taskid, block=False):
        """The TaskResult of task ``taskid``; None if it has not completed (unless ``block``)."""
        record = self._record(taskid)
        if block:
            self.barrier(taskid)
        elif not record.done:
            self._pump()
        return record.result

    def barrier(self, taskids):
        """Blocks until every task of ``taskids`` (an id or a list of ids) has completed."""
        records = [self._record(t) for t in ([taskids] if isinstance(taskids, int) else taskids)]
        look_at = time.monotonic() + _NO_ENGINES_AFTER
        with self._mover.standing_aside():   # this wait moves the work itself
            while records:
                records = [r for r in records if not r.done]
                if records:
                    self._settle(records)
                    self._pump()
                    if time.monotonic() > look_at:
                        look_at = time.monotonic() + _NO_ENGINES_AFTER
                        self._say_if_no_engines()

    def _say_if_no_engines(self):
        """A wait that lasts on a cluster without workers says so, once (the tasks would wait
        in silence until a worker connects; the kernel starts workers of its own)."""
        if self.engines.refresh():
            self._said_no_engines = False
        elif not self._said_no_engines:
            self._said_no_engines = True
            print("treadle: no engines: no worker is connected to the server at {0}:{1}; the tasks wait until one "
                  "connects (start some: treadle-worker {0}:{1} --cpus 4)".format(*self.address), file=sys.stderr)

    def _settle(self, records):
        """Waits until the server has said that every load-balanced run of ``records`` ended,
        so that their results come in one fetch (taking them in as they trickle in cost a
        round trip per few tasks); returns early on a failure (a retry is due), when some
        records are routed or waiting (they need pumping), or after 0.2 s without news."""
        with self._lock:
            self._flush()
            if any(r.handle is not None and r.handle.cancelled() for r in records):
                return   # they end now, without the server's word (_pump)
            in_flight = [r.handle.task_id for r in records if r.handle is not None]
            settled = self.connection.settled
            remaining = {t for t in in_flight if t not in settled}
            if len(in_flight) < len(records):   # routed or waiting records: pump as before
                self.connection.take_settled(0.2)
                return
            if any(settled.get(t) is False for t in in_flight):
                return
        while remaining:
            finished, failed = self.connection.take_settled(0.2)
            if failed or not finished:
                return
            remaining.difference_update(finished)

    def queue_status(self, verbose=False):
        """{'scheduled', 'pending', 'succeeded', 'failed'}: counts, or lists of ids if ``verbose``.
        Pending tasks are running on an engine; scheduled ones wait for one."""
        with self._lock:   # one view: the mover moves nothing meanwhile
            self._pump()
            running = set()
            handles = [r.handle for r in self._records if r.handle is not None]
            if handles:
                for handle, state in zip(handles, self.connection.states(handles)):
                    if state == "running":
                        running.add(self._by_task[handle.task_id].taskid)
            running.update(r.taskid for r in self._routed if r.command.copies)
            status = {"scheduled": [], "pending": [], "succeeded": [], "failed": []}
            for r in self._records:
                if r.done:
                    status["succeeded" if r.result.failure is None else "failed"].append(r.taskid)
                else:
                    status["pending" if r.taskid in running else "scheduled"].append(r.taskid)
        return status if verbose else {k: len(v) for k, v in status.items()}

    def abort(self, taskid):
        """Stops task ``taskid`` (an engine that runs it is replaced: its namespace starts
        empty); raises IndexError if it has completed already. Returns at once."""
        record = self._record(taskid)
        with self._lock:   # the mover sends or ends nothing of it meanwhile
            self._pump()   # sends it too, if it was not sent yet
            if record.done:
                raise IndexError("Task Already Completed: task {} has completed".format(taskid))
            self._abort(record, TaskAborted("task {} was aborted".format(taskid)))

    def _abort(self, record, failure):
        """The task ends as ``failure`` without running (again): no retry, no recovery task."""
        replaced = False   # a running task is stopped by ending its engine's executor
        if record.handle is not None:
            self._by_task.pop(record.handle.task_id, None)
            self._recoverable.discard(record)
            replaced = not self.connection.settled.get(record.handle.task_id)
            self.connection.release([record.handle])
            record.handle = None
        if record.command is not None:
            replaced = bool(record.command.copies)
            self.connection.release(record.command.copies)
            self._routed.discard(record)
            record.command = None
        self._set_waiting(record, False)
        record.result = TaskResult(record.taskid, {}, None, record.submitted, time.time(), failure=failure,
                                   attempts=record.attempts)
        if replaced:
            self._engine_replaced()
        if self._waiting:
            self._schedule_waiting()   # its engine is free for the next one (once replaced)

    def spin(self):
        """Schedules again: tasks that wait for an engine whose properties satisfy their
        ``depend`` look at the engines' properties anew."""
        self.forget_properties()
        self._pump()

    def forget_properties(self):
        """The engines' properties changed: waiting tasks are scheduled against new ones."""
        with self._lock:   # also called from a MultiEngineClient's thread (properties_changed)
            self._properties = None
            if self._asking is not None:   # answers that may predate the change: ask again
                for command in self._asking.values():
                    command.abandon()
                self._asking = None
            if self._waiting:
                self._ask_properties()
                self._mover.ensure()

    def close(self):
        self._mover.stop()
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        self.connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<TaskClient {}:{}>".format(*self.address)


def _runs_again_if_it_fails(record):
    """True if a failure of the record's run would run it again (a retry, or a recovery task)."""
    return record.attempt < record.chain[record.position][5] or record.position + 1 < len(record.chain)


def _cancelled(record, error):
    """The failure of a task whose run the kernel cancelled (core.client marks its handles): a
    cancelled task has ended, as an aborted one has."""
    return TaskAborted("Task {} was cancelled{}".format(record.taskid, " " + error.reason if error.reason else ""))
