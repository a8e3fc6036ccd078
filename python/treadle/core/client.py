"""What the clients of every API share: one connection to a server, the plans sent through it,
and the handles of the tasks they made (waits, fetches, releases).

An API gives :class:`ClientBase` its own face: ``treadle.loom.client.Client`` is one (HyperLoom's
methods on top), a native ``treadle.Client`` holds one. Every plan sent is told to the
listeners of ``core.hooks`` (the notebook's cell tracker, the lineage).
"""

import collections
import contextlib
import os
import socket
import threading

from . import hooks, plan as _plan, story as _story
from .address import connect_host
from .connection import Connection
from .errors import LoomException, TaskCancelled, TaskFailed
from .local_traceback import raised_as_local
from .output_lines import TaskOutputPrinter
from .task import TASK_MASK, Task, object_id, output_index


class Cancelled(collections.namedtuple("Cancelled", "cancelled ended")):
    """What a cancel did, as the server counted it: tasks cancelled, futures that had ended
    (finished or failed); ``failed``: how many of those had failed (no result of theirs stays)."""

    def __new__(cls, cancelled, ended, failed=0):
        self = super().__new__(cls, cancelled, ended)
        self.failed = failed
        return self


class TaskHandle:
    """A submitted task of a client: its id, held on the workers until released (dropping the
    last reference releases it too). The APIs' futures are, or hold, one.

    A task with other than one output (``Task.declare_outputs``) has a handle per output in
    ``outputs`` (their ``task_id`` is the object id, task | k << 40): each is fetched, used as
    an input and released on its own; releasing the task's handle releases them all."""

    __slots__ = ("client", "task_id", "outputs", "specs", "_released", "_until_done", "_finished", "_cancelled",
                 "__weakref__")

    def __init__(self, client, task_id, specs=None):
        self.client = client
        self.task_id = task_id
        self.specs = specs       # the task's OutputSpecs, or None: one unnamed output
        # One output (named or not) is the task's own id: the handle is its output.
        self.outputs = None if specs is None or len(specs) == 1 else tuple(
            type(self)(client, object_id(task_id, k)) for k in range(len(specs)))
        self._released = False
        self._until_done = False  # released "when done": the server holds it until its task ends
        self._finished = False   # seen finished by a wait or fetch, or by asking the server
        self._cancelled = None   # once cancelled (ClientBase.cancel): what cancelled it ("" if not said)

    def output(self, index):
        """The handle of output ``index`` (a position or a label) of a task with several outputs."""
        if self.outputs is None:
            output_index(self.specs, index, "task {}".format(self.task_id))
            return self
        return self.outputs[output_index(self.specs, index, "task {}".format(self.task_id))]

    def released(self):
        """True once the handle was released (by release(), gather() or the client)."""
        return self._released

    def released_when_done(self):
        """True while a handle released "when done" (``release(when_done=True)``: a Rain
        session's unkept outputs) may still wait for its task: the server holds it until the
        task ends, so the task is live (an interrupt or %treadle stop cancels it, progress lines
        and graphs follow it). False once a wait saw it end, or it was cancelled."""
        return self._until_done and not self._finished and self._cancelled is None

    def cancelled(self):
        """True once its client cancelled the task before it ended (released too): every API's
        future reads this, whoever cancelled (the kernel's interrupt or %treadle stop too)."""
        return self._cancelled is not None

    def cancelled_error(self, label=None):
        """The TaskCancelled (a concurrent.futures.CancelledError) that waiting on it raises."""
        return TaskCancelled(self.task_id, self._cancelled, label)

    def known_finished(self):
        """True if a wait or fetch saw the task finish (does not ask the server)."""
        return self._finished

    def release(self):
        self.client.release((self,))

    def __del__(self):
        try:
            # A task's outputs release themselves when dropped (one may be kept without the task).
            # The short way of release(): 10,000 futures dropped at once pass here 10,000 times
            # (the connection sends their ids together).
            if not self._released and not self.outputs:
                self._released = True
                self.client.connection.release((self.task_id,))
        except Exception:
            pass  # interpreter shutdown or a closed client: the server releases on disconnect

    def __repr__(self):
        return "<TaskHandle task_id={}{}>".format(self.task_id, " released" if self._released else "")


def default_name():
    return "{}:{}".format(socket.gethostname(), os.getpid())


def _held_ids(handle):
    """The ids the server holds for ``handle`` and a cancel names: its own for one output (unless
    released, but for one released "when done" whose task may still run); for a task with
    several outputs, those of its outputs (the server never holds such a task's own id)."""
    if not handle.outputs:
        return [handle.task_id] if not handle._released or handle.released_when_done() else []
    return [o.task_id for o in handle.outputs if not o._released or o.released_when_done()]


class ClientBase:
    """A connection to the server at (host, port), and the plans sent through it.

    What tasks print is shown while the client waits, each line marked with its task
    (``output="print"``); ``output`` may instead be a callable taking (task, label, stream,
    bytes) tuples, or None to drop it. ``api``: which API this client serves ("hyperloom",
    "native"), for listeners. ``handle_type``: the class of the handles ``submit`` returns.
    """

    handle_type = TaskHandle
    api = "hyperloom"

    def __init__(self, host, port, secret=None, timeout=None, output="print", server_timeout=12.0):
        self.connection = Connection(connect_host(host), int(port), secret or "", default_name(), timeout,
                                     server_timeout)
        self.address = (host, int(port))
        self.last_plan = None   # (first task id, count) of the last plan submitted
        self.cancels = 0        # cancels that marked handles cancelled: a wait that polls looks again when it grows
        # Cancels under way on some thread: the server tells a watcher (a wait on another
        # thread) of the cancel before the canceller has marked its handles (settle_cancels).
        self._cancelling = threading.Condition()
        self._cancels_in_flight = 0
        self.prints_output = output == "print"
        self._printer = TaskOutputPrinter() if self.prints_output else None
        handler = self._printer if self.prints_output else output
        if handler is not None:
            self.connection.set_output_handler(handler)
        if hooks.listeners:
            hooks.client_created(self)

    @property
    def closed(self):
        return self.connection.closed

    def blocking(self):
        """A context around every blocking wait (a task's client gives its cpu back meanwhile)."""
        return contextlib.nullcontext()

    # -- submitting ------------------------------------------------------------------------

    def _leaf_ref(self, child, task):
        if isinstance(child, TaskHandle):
            if child.client is not self:
                raise _plan.PlanError("{!r} belongs to another client".format(child))
            if child.cancelled():   # not "released": its task never finished
                raise _plan.PlanError("{} and cannot be used as an input".format(child.cancelled_error()))
            if child._released:
                raise _plan.PlanError("{!r} was released and cannot be used as an input".format(child))
            return child.task_id
        raise _plan.bad_input(task, child)

    def submit(self, tasks):
        """Submits tasks (and every task they need); returns a list of handles, one per task."""
        return self._submit(list(tasks))[0]

    def submit_with_inner(self, tasks, inner):
        """Submits tasks as ``submit`` does, and returns also the ids of the tasks ``inner``
        (tasks of the plan the others need, not roots): they hold nothing, so each goes once
        the tasks that read it are done; ``unheld_handle`` names one for waits by id, states
        and stories."""
        handles, base, encoded = self._submit(list(tasks))
        if not inner:
            return handles, []
        positions = encoded.positions
        return handles, [base + positions[id(t)] for t in inner]

    def unheld_handle(self, task_id, specs=None):
        """A handle of a submitted task that holds nothing (released from the start: an inner
        task of its plan), to name it."""
        handle = self.handle_type(self, task_id, specs)
        handle._released = True
        for o in handle.outputs or ():
            o._released = True
        return handle

    def _submit(self, tasks):
        """(handles, base, encoded plan) of a submit; (handles, None, None) when nothing was new."""
        result = [None] * len(tasks)
        new = []
        for i, t in enumerate(tasks):
            if isinstance(t, Task):
                new.append(i)
            elif isinstance(t, TaskHandle):
                # As HyperLoom: a future is submitted already; it may be an input of new tasks.
                raise TypeError("{!r} is not a task: it was submitted already (use it as an input of "
                                "a task, or wait/fetch it)".format(t))
            else:
                raise TypeError("{!r} is not a task: submit() takes tasks".format(t))
        if new:
            try:
                encoded = _plan.encode([tasks[i] for i in new], self._leaf_ref)
            except _plan.PlanError as e:
                raise LoomException(str(e)) from None
            base = self.connection.submit(encoded)
            self.last_plan = (base, encoded.count)   # its task ids: a range
            for i, local in zip(new, encoded.root_positions()):
                result[i] = self.handle_type(self, base + local, tasks[i].outputs)
            if hooks.listeners:
                hooks.plan_submitted(self, base, encoded, tasks, result)
            return result, base, encoded
        return result, None, None

    def submit_calls(self, calls, functions):
        """As ``submit(py_calls + functions)``, for Python calls whose only input is their
        function, without Task objects (``plan.encode_calls``: ``calls`` are (function, config,
        label, cpus), each function a py_value Task of ``functions`` or a handle). Returns
        the handles of the calls, then of the functions. Not told to listeners, which want Task
        objects: with ``hooks.listeners`` use ``submit``."""
        try:
            encoded = _plan.encode_calls(calls, functions, self._leaf_ref)
        except _plan.PlanError as e:
            raise LoomException(str(e)) from None
        base = self.connection.submit(encoded)
        self.last_plan = (base, encoded.count)
        handle = self.handle_type
        return [handle(self, base + local) for local in encoded.root_positions()]

    # -- collective operations -----------------------------------------------------------------

    def _ids(self, handles):
        ids = []
        for f in handles:
            if not isinstance(f, TaskHandle) or f.client is not self:
                raise LoomException("{!r} is not a future of this client".format(f))
            if f._released:
                raise f.cancelled_error() if f.cancelled() else LoomException("{!r} was released".format(f))
            ids.append(f.task_id)
        return ids

    def raise_if_cancelled(self, handles, labels=None):
        """Raises the TaskCancelled of the first cancelled handle (named by its label, if given)."""
        for i, f in enumerate(handles):
            if f.cancelled():
                raise f.cancelled_error(labels[i] if labels is not None else None)

    def _object_ids(self, handles):
        """The data objects of handles to fetch: a task with other than one output has none of its own."""
        ids = self._ids(handles)
        for f in handles:
            if f.outputs is not None:
                raise LoomException("task {} has {} outputs: fetch one of them (handle.output(k))".format(
                    f.task_id, len(f.outputs)))
        return ids

    def wait(self, handles):
        """Blocks until every task is computed; raises TaskFailed if one failed, TaskCancelled
        if one was cancelled meanwhile (by another thread)."""
        __tracebackhide__ = True
        with raised_as_local:   # a task's failure: the caller's frames, then the task's
            handles = list(handles)
            ids = self._ids(handles)
            with self.blocking(), self._cancel_raised(handles):
                failure = self.connection.wait(ids)
            if failure is not None:
                raise TaskFailed.from_failure(failure)
        for f in handles:
            f._finished = True

    def fetch(self, handles):
        """Downloads the results (they stay on the workers): bytes, or lists for arrays."""
        __tracebackhide__ = True
        with raised_as_local:
            handles = list(handles)
            ids = self._object_ids(handles)
            with self.blocking(), self._cancel_raised(handles):
                values, failure = self.connection.fetch(ids)
            if failure is not None:
                raise TaskFailed.from_failure(failure)
        for f in handles:
            f._finished = True
        return values

    @contextlib.contextmanager
    def _cancel_raised(self, handles):
        """A wait or fetch the server refused because a task it names was cancelled meanwhile
        (by another thread of this client) raises that task's TaskCancelled."""
        try:
            yield
        except LoomException:
            self.settle_cancels()
            cancelled = next((h for h in handles if h.cancelled()), None)
            if cancelled is None:
                raise
            raise cancelled.cancelled_error() from None

    def settle_cancels(self, timeout=5.0):
        """Waits (up to ``timeout`` s) until the cancels other threads are making have marked
        their handles: the server's word that a task was cancelled may come first."""
        with self._cancelling:
            self._cancelling.wait_for(lambda: self._cancels_in_flight == 0, timeout)

    def release(self, handles, when_done=False):
        """Frees the results on the workers; the handles cannot be used afterwards.
        ``when_done``: the server drops a handle whose task has not ended once it finishes (so
        it still runs; a failed one's stays: docs/protocol.md, ``release``)."""
        ids = []
        for f in handles:
            if isinstance(f, TaskHandle) and f.client is self and not f._released:
                f._released, f._until_done = True, when_done
                if not f.outputs:   # one output, or none: the future is the task's own id
                    ids.append(f.task_id)
                for o in f.outputs or ():
                    if not o._released:
                        o._released, o._until_done = True, when_done
                        ids.append(o.task_id)
        if ids:
            self.connection.release(ids, when_done)

    def cancel(self, handles, reason=None):
        """Releases the handles whose tasks have not ended; the server cancels what nobody else
        needs and counts it. Returns Cancelled(cancelled: tasks the server cancelled, inputs
        nobody else needs included; ended: handles whose tasks had ended, kept with their
        results). The cancelled handles say so (``cancelled()``): this is the one place that
        marks them, for every API's futures; ``reason`` ("by %treadle stop") goes into the
        TaskCancelled their waits raise. A handle released "when done" whose task may still run
        is cancelled too (the server holds it until the task ends); one whose task has ended is
        left as it is (the server no longer holds it: ``unheld``). The handle of a task with
        several outputs cancels it by its outputs still held (a Rain task none of whose outputs
        was kept: each released "when done")."""
        held = {}   # id(handle) -> the ids the server holds for it
        for f in handles:
            if isinstance(f, TaskHandle) and f.client is self and id(f) not in held:
                ids = _held_ids(f)
                if ids:
                    held[id(f)] = (f, ids)
        if not held or self.closed:
            return Cancelled(0, 0)
        with self._cancelling:
            self._cancels_in_flight += 1
        try:
            return self._cancel_held(held, reason)
        finally:
            with self._cancelling:
                self._cancels_in_flight -= 1
                self._cancelling.notify_all()

    def _cancel_held(self, held, reason):
        try:
            # Each id once: a task's handle and one of its outputs' may both be given.
            answer = self.connection.cancel(list(dict.fromkeys(i for _, ids in held.values() for i in ids)))
        except Exception:
            return Cancelled(0, 0)
        ended = set(answer["ended"])
        failed = set(answer.get("failed", ()))
        unheld = set(answer.get("unheld", ()))
        ended_count = failed_count = 0
        marked = False
        for f, ids in held.values():
            if any(i in ended for i in ids):   # a task's outputs end together
                ended_count += 1
                failed_count += any(i in failed for i in ids)
            elif all(i in unheld for i in ids):
                for h in (f,) + (f.outputs or ()):
                    h._finished = h._finished or h._until_done   # released when done: its task ended
            else:
                for h in (f,) + (f.outputs or ()):
                    h._released, h._cancelled = True, reason or ""
                marked = True
        if marked:
            self.cancels += 1
        return Cancelled(answer["cancelled"], ended_count, failed_count)

    # -- the rest --------------------------------------------------------------------------------

    def set_trace(self, path):
        """Records everything that runs from now on into the directory ``path`` (as HyperLoom):
        ``python3 -m treadle.report path`` makes a report of it. The path is the server's."""
        self.connection.record_trace(path)

    def trace(self, limit=100000):
        """The server's recent trace events (see treadle.trace)."""
        return self.connection.trace(limit)

    def states(self, handles):
        """The scheduler state of each handle (or task id), in order: "waiting", "ready",
        "assigned", "running", "redirected", "finished", "failed", "released" (finished, its result
        freed), "cancelled" (nobody needed it before it finished), or "unknown"."""
        ids = [(f.task_id if isinstance(f, TaskHandle) else int(f)) & TASK_MASK for f in handles]
        return self.connection.states(ids)

    def status(self):
        """The server's view: workers, task counts by state, memory."""
        return self.connection.status()

    def retire_workers(self, worker_ids):
        """Workers (ids as ``status()`` lists them) leave on purpose: each first hands the
        objects still needed to other workers, so nothing is recomputed, then stops; its queued
        tasks are placed elsewhere. Returns their names at once; they leave ``status()`` when
        they stopped."""
        return self.connection.retire(worker_ids)

    def story(self, handles):
        """Why is this task here? The recent transitions of a handle (or task id, or a list of
        them) with times, workers and reasons, and why a waiting one is not running now. Prints
        as text; ``.records`` are the TaskStory records (core.story)."""
        items = [handles] if isinstance(handles, (TaskHandle, int)) else list(handles)
        ids = [(f.task_id if isinstance(f, TaskHandle) else int(f)) & TASK_MASK for f in items]
        # What cancelled a task is known here (the server saw only that nobody needed it any more).
        cancelled = {h.task_id & TASK_MASK: h._cancelled for h in items
                     if isinstance(h, TaskHandle) and h._cancelled is not None}
        return _story.Story(_story.story(self.connection, ids), _story.worker_names(self.connection), cancelled)

    def close(self):
        if not self.connection.closed:
            self.connection.poll_output()
            if self._printer is not None:
                self._printer.flush_partial()
            self.connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
