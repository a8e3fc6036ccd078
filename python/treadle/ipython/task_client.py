"""IPython's ``TaskClient``: tasks farmed out to the engines, load-balanced by the scheduler
(or routed by their ``depend`` to an engine whose properties suit them), retried, recovered,
aborted, and their results kept by integer ids from 0."""

import threading
import time
import weakref

from ..core import hooks
from ..core.errors import LoomException, TaskCancelled
from ..runtime import engine as engine_side
from ..runtime import task_clients
from .address import resolve_address
from .connection import Connection, pulled, rebuild_failure
from .engines import Engines
from .push import packed
from .task import Task, TaskResult

_clients = weakref.WeakSet()   # TaskClients of this process: told when engine properties change
_FLUSH_DELAY = 0.005   # seconds between the first unsent task and sending it (as the native API)
_FLUSH_LIMIT = 1024    # unsent tasks that are sent at once


class TaskAborted(LoomException):
    """The failure of a task that ``abort`` stopped, or that the kernel cancelled (an interrupt of
    the cell that ran it, ``%treadle stop``)."""


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
        self.connection = Connection(host, port, secret=secret or task_clients.secret(), output="print")
        self.address = self.connection.address
        self.engines = Engines(self.connection)
        self._records = []
        self._by_task = {}          # treadle task id -> record
        self._properties = None     # engine id -> properties, for depend; None: ask again
        self._asking = None         # engine id -> Command asking its properties, in flight
        self._unsent = []           # load-balanced runs not sent yet: sent together, in one plan
        self._routed = set()        # records with a Command in flight
        self._timer = None
        self._lock = threading.RLock()   # the flush timer's thread and the caller's
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
                record.waiting = False
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
        engine = self._choose(depend)
        record.waiting = engine is None
        if engine is not None:
            record.attempts += 1
            with hooks.sending_deferred(record.cells):
                record.command = self.engines.start(engine, "task", args, timeout=365 * 86400)
            self._routed.add(record)

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
                start = end

    def send_deferred(self):
        """The runs held back for the flush timer, sent now (hooks.send_deferred: before a cancel)."""
        if self._unsent:
            self._flush()

    def _flush_from_timer(self):
        try:
            self._flush()
        except Exception:
            pass   # the next call that waits sends them again and reports the error

    def _choose(self, depend):
        """The engine, among those whose properties satisfy ``depend``, with the fewest tasks
        of this client routed to it now; None if none does (an exception means "not here"),
        or while the engines' properties are being asked for."""
        if self._properties is None:
            self._ask_properties()
            return None
        fits = []
        for engine, properties in sorted(self._properties.items()):
            try:
                if depend(dict(properties)):
                    fits.append(engine)
            except Exception:
                pass
        if not fits:
            return None
        busy = {}
        for r in self._routed:
            busy[r.command.engine_id] = busy.get(r.command.engine_id, 0) + 1
        return min(fits, key=lambda e: busy.get(e, 0))

    def _ask_properties(self):
        """Asks every engine for its properties, without waiting (busy engines answer later)."""
        if self._asking is None:
            self._asking = {e: self.engines.start(e, "get_properties", None) for e in self.engines.targets("all")}

    def _take_properties(self):
        """The engines' answers; once all came, the waiting tasks are scheduled again."""
        if self._asking is None:
            return
        for engine, command in list(self._asking.items()):
            try:
                command.step()
            except LoomException:   # a lost engine, or one busy for too long: not a candidate
                del self._asking[engine]
        if all(c.answer is not None for c in self._asking.values()):
            answers, self._asking = self._asking, None
            self._properties = {e: c.answer.get("value") or {} for e, c in answers.items()}
            for record in self._records:
                if record.waiting and not record.done:
                    self._dispatch(record)

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
            for record in list(self._routed):
                try:
                    answered = record.command.step()
                except TaskCancelled as error:
                    self._abort(record, _cancelled(record, error))
                    continue
                except LoomException as error:
                    self._routed.discard(record)
                    record.command = None
                    self._ended(record, None, error)
                    continue
                if answered:
                    self._routed.discard(record)
                    answer, record.command = record.command.answer, None
                    self._ended(record, answer, None)

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
        while records:
            records = [r for r in records if not r.done]
            if records:
                self._settle(records)
                self._pump()

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
        self._pump()   # sends it too, if it was not sent yet
        if record.done:
            raise IndexError("Task Already Completed: task {} has completed".format(taskid))
        self._abort(record, TaskAborted("task {} was aborted".format(taskid)))

    def _abort(self, record, failure):
        """The task ends as ``failure`` without running (again): no retry, no recovery task."""
        if record.handle is not None:
            self._by_task.pop(record.handle.task_id, None)
            self.connection.release([record.handle])
            record.handle = None
        if record.command is not None:
            self.connection.release(record.command.copies)
            self._routed.discard(record)
            record.command = None
        record.waiting = False
        record.result = TaskResult(record.taskid, {}, None, record.submitted, time.time(), failure=failure,
                                   attempts=record.attempts)

    def spin(self):
        """Schedules again: tasks that wait for an engine whose properties satisfy their
        ``depend`` look at the engines' properties anew."""
        self.forget_properties()
        self._pump()

    def forget_properties(self):
        """The engines' properties changed: waiting tasks are scheduled against new ones."""
        self._properties = None
        if self._asking is not None:   # answers that may predate the change: ask again
            for command in self._asking.values():
                command.abandon()
            self._asking = None
        if any(r.waiting and not r.done for r in self._records):
            self._ask_properties()

    def close(self):
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


def _cancelled(record, error):
    """The failure of a task whose run the kernel cancelled (core.client marks its handles): a
    cancelled task has ended, as an aborted one has."""
    return TaskAborted("Task {} was cancelled{}".format(record.taskid, " " + error.reason if error.reason else ""))
