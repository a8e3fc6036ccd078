"""Rain's sessions: the graph built since the last submit, what was submitted, and which
objects the client keeps. ``with session:`` makes it the active one (a stack) and closes it
at the end; ``bind_only()`` makes it active without closing it; ``default=True`` makes it the
one used when none is active.

What is not kept goes as soon as nothing needs it: at submit, the session drops its hold on
every output nobody kept, "when done" (docs/protocol.md, ``release``): the server lets the
task run, drops the hold when it finishes, and frees the object once its consumers finished
too. The session hears which of its tasks ended from the server (``watch``/``settled``).

A failure fails its session only: its unfinished tasks are cancelled, and every later call
on it raises the TaskException that failed it; ``close()`` never raises.
"""

import contextlib
import json
from datetime import datetime, timezone

from ...core import hooks
from ...core.errors import LoomException, TaskCancelled, TaskFailed
from ...core.local_traceback import raising_as_local
from ...core.source_names import sources_named
from ...core.task import Task as CoreTask, TaskOutput, object_id
from ..common import DataInstance, ObjectInfo, RainException, SessionException, TaskException, TaskInfo
from . import active
from .data_object import DataObject
from .task import Task

_STORY_IDS_PER_REQUEST = 1000   # the server's limit (docs/protocol.md, story)


class Session:
    """A group of tasks and objects submitted to the server and freed together."""

    def __init__(self, client, name=None, default=False, session_id=0):
        self.client = client
        self.name = name
        self.session_id = session_id
        self.closed = False
        self.error = None       # the exception that failed the session: every later call raises it
        self._new = []          # tasks created since the last submit
        self._readers = []      # those of them that read other tasks' outputs
        self._kept = []         # those of them with an output kept (or kept and unkept)
        self._pending = []      # submitted tasks not yet seen ended
        self._by_core = {}      # id(core task) -> Rain task, for tasks not yet submitted (made when asked)
        self._indexed = 0       # how many of _new are in _by_core
        self._by_id = {}        # task id -> Rain task, for submitted ones
        self._roots = []        # submitted tasks that hold something (their plans' roots)
        self._static = {}       # key -> the core task, then the handle, of a value shared by tasks
        self._static_new = []   # keys of static values not yet submitted
        self.plans = []         # (first task id, count) of each plan submitted: what the widgets draw
        if default:
            active.default[0] = self

    # -- the graph ---------------------------------------------------------------------------

    def add_task(self, task, reads=False):
        """A task made in this session; ``reads``: it reads other tasks' outputs."""
        if self.closed or self.error is not None:
            self._check()
        self._new.append(task)
        if reads:
            self._readers.append(task)

    def add_kept(self, task):
        """A task of this session whose output was kept (before its submit): maybe a root."""
        self._kept.append(task)

    def rain_inputs(self, core_task):
        """The DataObjects a core task reads (its inputs that are outputs of this session's tasks)."""
        found = []
        for ref in core_task.inputs or ():
            task, index = self._owner(ref)
            if task is not None and index < len(task.declared):
                found.append(task.output_object(index))
        return found

    def _owner(self, ref):
        task_id = getattr(ref, "task_id", None)   # a TaskHandle
        if task_id is not None:
            return self._by_id.get(task_id & ((1 << 40) - 1)), task_id >> 40
        # Indexed when a task names core inputs (not @remote's calls): none pay for it.
        by_core, new = self._by_core, self._new
        for task in new[self._indexed:]:
            by_core[id(task.core)] = task
        self._indexed = len(new)
        if isinstance(ref, TaskOutput):
            return by_core.get(id(ref.task)), ref.index
        return by_core.get(id(ref)), 0

    def static_value(self, key):
        """A value tasks of this session share (a @remote function: one core task, submitted
        with the first tasks that use it and held until the session closes), or None."""
        return self._static.get(key)

    def add_static_value(self, key, value):
        self._static[key] = value
        self._static_new.append(key)
        return value

    def submitted_ids(self):
        """The ids of the tasks this session submitted (and has not closed)."""
        return list(self._by_id)

    def shared_value_ids(self):
        """The task ids of the values its tasks share (the @remote functions), once submitted."""
        return [v.task_id for v in self._static.values() if not isinstance(v, CoreTask)]

    def unsubmitted(self):
        """The tasks created since the last submit."""
        return list(self._new)

    @raising_as_local   # a failure the session kept: the caller's frames only (core.local_traceback)
    def submit(self):
        """Sends the tasks created since the last submit."""
        self._check()
        new, self._new = self._new, []
        readers, self._readers = self._readers, []
        kept, self._kept = self._kept, []
        self._indexed = 0
        statics, self._static_new = self._static_new, []
        if not new and not statics:
            return
        try:
            # A maker (a @remote function) writes the config of a task whose config is not
            # written yet (or no longer: its spec was asked for, so may have changed). The
            # plan's roots, which the session holds: the tasks nothing of this submit reads
            # (sinks) and those with a kept output. The others (inner) go once the tasks
            # reading them are done, as a HyperLoom plan's inner tasks do: no hold to take and
            # drop. (One pass over the tasks, no call per task: a submit of 10,000 calls pays
            # for each, bench 9a.)
            read = set()
            for task in readers:
                read.update(map(id, task.input_tasks()))
            kept = {id(t) for t in kept if t.has_kept_output()}
            sinks, rooted, inner, inner_cores = [], [], [], []
            for t in new:
                if not t.core.config and t.maker is not None:
                    t.maker.before_submit(t)
                if id(t) not in read:
                    sinks.append(t)
                    rooted.append(t)
                elif id(t) in kept:
                    rooted.append(t)
                else:
                    inner.append(t)
                    inner_cores.append(t.core)
            handles, inner_ids = self.client.core.submit_with_inner(
                [t.core for t in rooted] + [self._static[key] for key in statics], inner_cores)
        except (LoomException, ValueError, TypeError) as error:
            for key in statics:
                del self._static[key]
            raise RainException("the graph cannot be submitted: {}".format(error)) from None
        for key, handle in zip(statics, handles[len(rooted):]):
            self._static[key] = handle
        self.plans.append(self.client.core.last_plan)
        self._by_core = {}   # held only tasks not yet submitted: all of them are now
        by_id = self._by_id
        for task, handle in zip(rooted, handles):
            task.submitted(handle.task_id, handle)
            by_id[handle.task_id] = task
        for task, task_id in zip(inner, inner_ids):   # task.submitted(task_id), inlined: 10,000 calls
            task.task_id, task.state, task.held = task_id, "submitted", False
        by_id.update(zip(inner_ids, inner))
        self._roots.extend(rooted)
        self._pending.extend(new)
        self.client.watch(sinks)
        unkept = []
        for task in rooted:   # an inner task holds nothing: its objects are released already
            unkept.extend(task.unkept_handles())
        self._release_when_done(unkept)

    def _release_when_done(self, handles):
        self.client.core.release(handles, when_done=True)

    # -- waiting -----------------------------------------------------------------------------

    @raising_as_local
    def wait_all(self):
        """Waits for every task submitted so far: for the watched ones (those nothing of their
        submit reads), whose ends mark the tasks they read finished."""
        self._check()
        watched = [t for t in self._pending if self.client.watching(t) or t.state != "submitted"]
        self._wait_tasks(watched, shown=self._pending)
        self._pending = [t for t in self._pending if t.state == "submitted"]

    @raising_as_local
    def wait(self, items):
        """Waits for tasks and data objects (their tasks) of this session."""
        self._check()
        self._wait_tasks([self._submitted_task(item) for item in items])

    def _submitted_task(self, item):
        task = item.task if isinstance(item, DataObject) else item
        if not isinstance(task, Task):
            raise RainException("{!r} is not a task or a data object".format(item))
        if task.session is not self:
            raise RainException("{!r} belongs to another session".format(item))
        if task.task_id is None:
            raise RainException("{!r} was not submitted".format(item))
        return task

    def _wait_tasks(self, tasks, shown=None):
        # A notebook shows a progress line for a wait that lasts (core.hooks listeners): of
        # every task waited for (``shown``), though the wait itself may follow fewer; not of
        # the constants (blob()), which are data to the user, not tasks.
        shown = tasks if shown is None else shown
        handles = [t.handle for t in shown if t.state == "submitted" and not t.constant] if hooks.listeners else []
        with self.client.core.waiting_on(handles):
            self._wait_settled(tasks)

    def _wait_settled(self, tasks):
        client = self.client
        client.poll_settled()
        # A cancel made through the core client (the kernel's interrupt or %treadle stop, or
        # client.core.cancel) marks the handles, not this session: the handles are looked at
        # now; while the wait polls, the server's word that a watched task was cancelled ends
        # it at once (poll_settled), and an unwatched one's handle is looked at after each
        # cancel (core.cancels).
        cancels = client.core.cancels
        # A task waited for by itself: watched now, or (an inner task of its plan, which holds
        # nothing the server would watch) its state asked until it ends.
        late = [t for t in tasks if t.state == "submitted" and not client.watching(t)]
        self._raise_if_cancelled(late)
        asked = client.watch_late(late)
        pending = {}
        for task in tasks:
            if task.state == "failed":
                self._task_failed(task)
            if task.state == "submitted":
                pending[task.task_id] = task
        self._raise_if_cancelled(pending.values())
        asked = {t.task_id: t for t in asked if t.state == "submitted"}
        # Only the news is looked at: a long wait costs O(tasks), not O(tasks x polls).
        while pending:
            for task_id in client.poll_settled(timeout=0.1 if asked else 1.0):
                task = pending.pop(task_id, None)
                if task is not None and task.state == "failed":
                    self._task_failed(task)
                if task is not None and task.cancelled_by_server:
                    self._raise_if_cancelled([task])
            if client.core.cancels != cancels:   # a cancel meanwhile (from another thread)
                cancels = client.core.cancels
                self._raise_if_cancelled(pending.values())
            if asked:
                for task in client.ask_states(list(asked.values())):
                    self._task_cancelled(task, None)
                for task_id in [i for i, t in asked.items() if t.state != "submitted"]:
                    task = asked.pop(task_id)
                    pending.pop(task_id, None)
                    if task.state == "failed":
                        self._task_failed(task)

    # -- data --------------------------------------------------------------------------------

    @raising_as_local
    def fetch(self, data_object):
        """The content of a kept object as a DataInstance; updates its info too."""
        self._check()
        if data_object.task.task_id is None:
            raise RainException("{!r} was not submitted".format(data_object))
        if not data_object.is_kept():
            raise RainException("{!r} is not kept: call keep() before submit to fetch it".format(data_object))
        try:
            value = self.client.core.fetch([data_object.handle])[0]
        except TaskFailed as error:
            self._fail(self._task_exception(error))
        except TaskCancelled as error:
            self._task_cancelled(data_object.task, data_object.task.cancellation() or error)
        except LoomException as error:
            raise RainException(str(error)) from None
        data_object.task.mark_finished()   # and the tasks it read: a session's close need not ask
        self.update([data_object.task])
        info = data_object.info
        return DataInstance(value, info.content_type or data_object.content_type, data_object,
                            spec=data_object.spec, info=info, data_type=data_object.data_type)

    def unkeep(self, data_object):
        """The object goes once nothing needs it (at once if its task ended and no task reads it)."""
        self._check()
        data_object._keep = False
        if data_object.task.task_id is None:
            return
        self._release_when_done([data_object.handle])

    # -- spec and info -----------------------------------------------------------------------

    @raising_as_local
    def update(self, items):
        """Fetches the info of tasks and objects (their tasks) from the server."""
        self._check()
        tasks = list({id(t): t for t in (self._submitted_task(i) for i in items)}.values())
        for start in range(0, len(tasks), _STORY_IDS_PER_REQUEST):
            chunk = tasks[start:start + _STORY_IDS_PER_REQUEST]
            try:
                replies = self.client.core.connection.story([t.task_id for t in chunk])
            except LoomException as error:
                raise RainException(str(error)) from None
            for task, reply in zip(chunk, replies):
                _apply_story(task, reply)

    # -- failure and closing -----------------------------------------------------------------

    def _task_failed(self, task):
        """A task of the session failed: ask the server why, and fail the session."""
        failure = None
        try:
            failure = self.client.core.connection.wait([task.task_id])
        except LoomException:
            pass
        if failure is None:
            self._fail(TaskException("Task {!r} failed".format(task), task=task))
        self._fail(self._task_exception(TaskFailed.from_failure(failure)))

    def _raise_if_cancelled(self, tasks):
        """Fails the session for the first of these submitted tasks that its client cancelled
        (or the server said was cancelled)."""
        for task in tasks:
            if task.cancelled_by_server:
                # The server tells of a cancel before the thread that made it marked its handles.
                self.client.core.settle_cancels()
            error = task.cancellation()
            if error is None and task.cancelled_by_server:   # not by a cancel of its handles
                why = "(its session was closed)" if self.closed else "(its futures were released before it ended)"
                error = TaskCancelled(task.task_id, why, task.core.label)
            if error is not None:
                self._task_cancelled(task, error)

    def _task_cancelled(self, task, error):
        """A task of the session was cancelled, so it will never end: as for a failure, its
        session fails with a TaskException that names the cancel and its cause (``error``, the
        core's TaskCancelled, when the task's handle knows it)."""
        if error is None:   # an inner task: cancelled because what read it was
            error = TaskCancelled(task.task_id, "(the tasks that read it were cancelled)", task.core.label)
        reason = " " + error.reason if error.reason else ""
        self._fail(TaskException("Task {!r} was cancelled{}".format(task, reason),
                                 task=task, error=str(error), cause=error))

    def _task_exception(self, error):
        """Rain's TaskException for the core's TaskFailed: the task that failed, its error (a
        traceback or stderr) and its debug lines."""
        origin = self._by_id.get(error.origin_id)
        debug = ""
        if origin is not None:
            try:
                _apply_story(origin, self.client.core.connection.story([origin.task_id])[0])
                debug = origin.info.debug
            except Exception:
                pass
        name = repr(origin) if origin is not None else "id={}{}".format(
            error.origin_id, " ({})".format(error.label) if error.label else "")
        # A frame of a function defined in a notebook cell, as the notebook names it (Cell In
        # [2], line 10, and the cell's line), not as the kernel's file the worker never had.
        text = sources_named(error.error, with_lines=True)
        message = "Task {} failed\nMessage: {}".format(name, text.rstrip())
        if debug and "\nDebug:\n" not in text:
            message += "\n\nDebug:\n" + debug
        return TaskException(message, task=origin, error=text, debug=debug, cause=error)

    def _fail(self, error):
        """A failure fails this session only: its unfinished tasks are cancelled and every
        later call on it raises the same error."""
        self.error = error
        self._cancel_unfinished()
        raise error

    def _cancel_unfinished(self):
        ids = []
        for task in self._pending:
            if task.state == "submitted":
                ids.extend(_future_ids(task))
        try:
            if ids:
                self.client.core.connection.cancel(ids)
        except Exception:
            pass   # the server is gone: nothing runs

    def _check(self):
        if self.closed:
            raise SessionException("{} is closed".format(self.called()))
        if self.error is not None:
            raise self.error

    @contextlib.contextmanager
    def bind_only(self):
        """Makes this session the active one for a with-block, without closing it at the end."""
        if self.closed:
            raise SessionException("{} is closed".format(self.called()))
        active.stack.append(self)
        try:
            yield self
        finally:
            active.stack.remove(self)

    def close(self):
        """Frees everything of the session on the server. Never raises."""
        if self.closed:
            return
        self.closed = True
        try:
            self.client.unwatch(t.task_id for t in self._roots)   # only roots are watched
            if not self.client.core.closed:
                # Rain's guide: a closed session's running tasks are stopped, kept outputs or not
                # (an unkept output is released "when done", so releasing alone would not stop it).
                self._cancel_unfinished()
                # The server keeps a failed task's futures (released "when done" or not); a task
                # not watched may have failed unseen, so the unfinished are asked for.
                unsure = [t for t in self._pending if t.state != "finished"]
                states = self.client.core.connection.states([t.task_id for t in unsure]) if unsure else []
                failed = [i for t, state in zip(unsure, states) if state == "failed" for i in _future_ids(t)]
                if failed:
                    self.client.core.connection.release(failed)
                handles = [t.handle for t in self._roots]
                self.client.core.release(handles + [v for v in self._static.values() if not isinstance(v, CoreTask)])
        except Exception:
            pass
        self._by_id, self._by_core, self._pending, self._static, self._roots = {}, {}, [], {}, []
        while self in active.stack:
            active.stack.remove(self)
        if active.default[0] is self:
            active.default[0] = None

    def __enter__(self):
        if self.closed:
            raise SessionException("{} is closed".format(self.called()))
        active.stack.append(self)
        return self

    def __exit__(self, *exc):
        if self in active.stack:
            active.stack.remove(self)
        self.close()

    def called(self):
        """How a message names the session: by its name, else by its id (an unnamed session's
        name is None, which says nothing): "session 'data prep'", "session 3"."""
        return "session {!r}".format(self.name) if self.name is not None else "session {}".format(self.session_id)

    def __repr__(self):
        return "<Session {!r}>".format(self.name) if self.name is not None else "<Session {}>".format(self.session_id)


def _future_ids(task):
    """The ids of a submitted task's futures: its outputs', or its own for < 2 outputs."""
    count = len(task.declared)
    return [task.task_id] if count < 2 else [object_id(task.task_id, k) for k in range(count)]


def _apply_story(task, reply):
    """Sets ``task.info`` and its outputs' info from the server's story of the task: start,
    duration and worker from its transitions, the error, and what the task recorded itself."""
    info = TaskInfo()
    transitions = reply.get("transitions") or []
    start = _last(transitions, ("running",)) or _last(transitions, ("assigned",))
    end = _last(transitions, ("finished", "failed"))
    if start is not None:
        info.start_time = datetime.fromtimestamp(start["time_us"] / 1e6, timezone.utc).isoformat()
        if end is not None:
            info.duration = max(0.0, (end["time_us"] - start["time_us"]) / 1e6)
    where = (end or start or {}).get("worker")
    if where:
        info.governor = where[len("tcp://"):] if where.startswith("tcp://") else where
    info.error = reply.get("failure") or ""
    recorded = json.loads(reply["info"]) if reply.get("info") else {}
    info.debug = recorded.get("debug", "")
    info.user = recorded.get("user", {})
    task.info = info
    state = reply.get("state")
    if state in ("finished", "released") and task.state == "submitted":
        task.state = "finished"
    objects = recorded.get("objects") or []
    sizes = reply.get("sizes") or []
    for k, o in enumerate(task.outputs):
        made = objects[k] if k < len(objects) else {}
        o.info = ObjectInfo(size=sizes[k] if k < len(sizes) else None,
                            content_type=made.get("content_type") or o.spec.content_type,
                            user=made.get("user", {}), error=info.error)


def _last(transitions, states):
    for t in reversed(transitions):
        if t.get("to") in states:
            return t
    return None
