"""treadle's native API: Python functions as tasks, concurrent.futures style.

    @treadle.task
    def square(x):
        return x * x

    total = treadle.submit(sum, [square(i) for i in range(10)])   # futures inside a list
    total.result()                                                # 285
    list(treadle.map(square, range(5)))                           # [0, 1, 4, 9, 16]

Calls return futures at once. Tasks are sent in batches (a few milliseconds after the first call,
or once something waits), so 10,000 calls are one plan; a call after a quiet spell goes at once,
as its own plan (nothing waits to be batched with it); a task runs where its inputs' results are.
"""

import collections.abc
import contextlib
import itertools
import os
import threading
import time

from .cluster import LocalCluster
from .core import address as _address
from .core import embedded_server, hooks, state_now, walk
from .core.client import Cancelled, ClientBase
from .core.client_summary import ClusterSummary
from .core.errors import TaskCancelled, TaskFailed, propagating_interrupt
from .core.foreign import AnyApiFuture, refuse_others
from .core.local_traceback import raised_as_local
from .future import Future, TaskError  # noqa: F401 - treadle.api.Future, as before
from .core.settled import SettledTasks
from .core.task import PY_CALL, ResourceRequest, Task, check_options, py_value
from . import refused_calls
from .buffered_map import buffered_map, positive_int
from .refused_calls import InputReleased
from .runtime import task_clients, timed_wait
from .runtime.call_config import call_config

_FLUSH_DELAY = 0.005   # seconds between the first unsent call and sending it
# A call made this long after the last send (and nothing unsent) goes at once: when calls come
# one by one, the delay is all they would get from batching; the calls right behind it batch.
_QUIET_SECONDS = _FLUSH_DELAY
_FLUSH_LIMIT = 4096    # unsent calls that trigger sending at once
# Another API's future among the futures: refused by name (core.foreign). Future first: the
# usual leaf matches without the ABC's check.
_ANY_FUTURE = (Future, AnyApiFuture)
# A Future's repr in the server's words (states of core.client.ClientBase.states): it says
# "submitted" while the task waits for its turn; once released, "released" unless it failed or was cancelled.
_SHOWN_STATES = {"running": "running", "finished": "finished", "released": "released", "failed": "failed",
                 "cancelled": "cancelled"}
_RELEASED_STATES = {"failed": "failed", "cancelled": "cancelled"}


class _CoreClient(ClientBase):
    """A native client's connection: inside a task, closed with it; its waits give the cpu back."""
    api = "native"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        task_clients.adopt(self)

    def blocking(self):
        return task_clients.blocking()


class Client:
    """A connection to a treadle server, for the native API.

    ``Client()`` connects to $TREADLE_ADDRESS ("host:port") if set; ``Client("host:port")``
    or ``Client(("host", port))`` to that server; ``Client(cluster)`` to a LocalCluster.
    Inside a task, ``Client()`` connects to the cluster the task runs on, and every client
    made there is closed when the task ends. ``timeout``: seconds to wait for a server that is
    not up yet (default $TREADLE_CONNECT_TIMEOUT, else 10; a line on stderr after the first
    second; Ctrl-C stops), then LoomException naming the address. ``server_timeout``: seconds of
    the server's silence, once its connection closed, after which calls fail (a silent server
    whose connection is open is busy or stopped: waits go on, saying so; the client's own
    pauses, a laptop asleep, do not count).
    """

    def __init__(self, address=None, secret=None, output="print", timeout=None, server_timeout=12.0):
        host, port = _address.parse_given_or_environment(address if address is not None else task_clients.server_address())
        # The connection, shared with listeners (the notebook's cell tracker) by this name.
        self.core = _CoreClient(host, port, secret=secret or task_clients.secret(), timeout=timeout, output=output,
                                server_timeout=server_timeout)
        self._lock = threading.RLock()
        self._pending = []        # futures not yet submitted
        self._pending_take_futures = False  # some of them take futures as arguments
        self._timer = None
        self._last_sent = -_QUIET_SECONDS   # time.monotonic() of the last send
        self._functions = {}      # id(fn) -> (fn, its py_value Task until sent, then its loom Future)
        self._ends = SettledTasks(self.core.connection)
        self._settled = self._ends.states   # task id -> True (finished) / False (failed)
        self._counter = itertools.count()
        self._quiet_waits = 0     # inside a map: its own waits show no progress of their own
        self.address = (host, port)
        # As in Dask: the first client made is the one decorated functions use (inside a task,
        # the task's own client is: see default_client); one made after its cluster closed, too.
        if task_clients.current() is None:
            with _default_lock:
                if _default["client"] is None or _default["client"].core.connection.stopped:
                    _default["client"] = self

    # -- making tasks ------------------------------------------------------------------------

    def submit(self, fn, *args, **kwargs):
        """Runs ``fn(*args, **kwargs)`` on a worker; returns a Future of its result."""
        return self._call(fn, args, kwargs, label=None, cpus=1)

    def map(self, fn, *iterables, ordered=True, window=256, buffersize=None):
        """Like the built-in map, on the workers: yields the results, in order (or as they
        finish with ``ordered=False``). Eager, as ``concurrent.futures``: its first ``next()``
        submits every call (one plan), and at most ``window`` results wait in the client. With
        ``buffersize=N`` (Python 3.14's), it reads the inputs lazily instead, at most N calls
        submitted ahead of the one read next: for endless iterators and streams."""
        positive_int(window, "window")
        if buffersize is not None:
            positive_int(buffersize, "buffersize")
            return buffered_map(self, fn, iterables, ordered, buffersize,
                                lambda fn, args: self._call(fn, args, {}, None, 1))
        return self._eager_map(fn, iterables, ordered, window)

    def _eager_map(self, fn, iterables, ordered, window):
        futures = [self._call(fn, args, {}, None, 1) for args in zip(*iterables)]
        self.flush()
        # One wait for the whole map (one progress line in a notebook), not one per window.
        with self._waiting([f._handle for f in futures]):
            self._quiet_waits += 1
            try:
                if ordered:
                    for start in range(0, len(futures), window):
                        chunk = futures[start:start + window]
                        try:
                            values = self.gather(chunk)
                        except (TaskFailed, TaskCancelled, InputReleased):  # yield in order to the first failing one
                            values = None
                        for future in chunk if values is None else ():
                            with raised_as_local:   # leaves the generator as it left result()
                                value = future.result()
                            yield value
                        yield from values or ()
                        self.release(chunk)
                else:
                    for future in self.as_completed(futures):
                        with raised_as_local:
                            value = future.result()
                        yield value
                        future.release()
            finally:
                self._quiet_waits -= 1
                # Ended early (a failure, a consumer that stopped): unread tasks go now, not with a kept traceback.
                unread = [f for f in futures if f._handle is None or not f._handle.released()]
                if not propagating_interrupt():   # an interrupt's are the interrupt's business
                    futures.clear()
                    with contextlib.suppress(Exception):  # a closed client: nothing is left to free
                        self.cancel(unread)
                        self.release(unread)
                chunk = future = value = unread = None

    def _call(self, fn, args, kwargs, label, cpus):
        if isinstance(fn, TaskFunction):  # map(square, ...) with a decorated square
            fn, label, cpus = fn.fn, label or fn.label, fn.cpus
        if not callable(fn):
            raise TypeError("treadle runs callables, not {}".format(type(fn).__name__))
        inputs, name = [], label or getattr(fn, "__name__", "task")
        if cpus != 1 or len(name) > 1024:   # what the server would refuse fails this call, not its batch
            check_options(name, cpus)
        config = call_config(args, kwargs, inputs, lambda future: future.client is self, Future, name)
        function = self._functions.get(id(fn))
        if function is None or function[0] is not fn:   # pickled at its first call: its error is that call's
            self._functions[id(fn)] = (fn, py_value(fn))
        tokens = hooks.native_calling(self) if hooks.listeners else None
        cells = hooks.submit_deferred(self) if hooks.listeners else None   # told now: the timer may send it in a later cell
        with self._lock:
            # The task is built when sent: an input may be sent before it, or with it.
            spec = (fn, inputs, config, name, cpus, cells)
            future = Future(self, spec, name, next(self._counter))
            if tokens is not None:
                hooks.native_called(tokens, future)
            self._pending.append(future)
            if inputs:
                self._pending_take_futures = True
            if len(self._pending) >= _FLUSH_LIMIT:
                self.flush()
            elif len(self._pending) == 1 and time.monotonic() - self._last_sent >= _QUIET_SECONDS:
                self._flush_from_timer()   # at once; an error is the next wait's, as from the timer
            elif self._timer is None:
                self._timer = threading.Timer(_FLUSH_DELAY, self._flush_from_timer)
                self._timer.daemon = True
                self._timer.start()
        return future

    def flush(self):
        """Sends the calls not sent yet (waiting for a result does it too)."""
        sent = self._send_pending()
        if sent and hooks.listeners:
            hooks.native_flushed(self, sent)

    def _send_pending(self):
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            pending, self._pending = self._pending, []
            taking, self._pending_take_futures = self._pending_take_futures, False
            sendable = refused_calls.refuse(pending) if taking else pending  # a cancelled or released input: that call only
            if not sendable:
                return pending
            self._last_sent = time.monotonic()
            runs = hooks.runs_by_deferred(sendable, lambda future: future._spec[5])   # one plan per cell
            for k, run in enumerate(runs):
                cells = run[0]._spec[5]
                try:
                    with hooks.sending_deferred(cells):   # the plan is filed under the cell that made its calls
                        self._submit(run, taking)
                except Exception as error:
                    # The server refused the plan (or it could not be made): only the calls it names fail, alone; the
                    # batch's others and later calls go on (a refused batch put back would be refused forever).
                    with hooks.sending_deferred(cells):
                        refused_calls.send_alone(run, lambda future: self._submit([future], True), error)
                except BaseException:   # an interrupt: these runs were not sent, their calls wait for the next flush
                    self._pending = [f for r in runs[k:] for f in r] + self._pending
                    self._pending_take_futures = self._pending_take_futures or taking
                    raise
            return pending

    def _submit(self, sendable, taking):
        """Sends these calls as one plan and binds their futures (the lock is held)."""
        built = {}      # id(future) -> its loom Task, for inputs sent in this same plan
        new_functions = {}
        requests = {}   # cpus -> the ResourceRequest the batch's tasks share
        roots = []
        as_calls = not taking and not hooks.listeners  # plain arguments: columns, no Task objects (core.plan)
        for future in sendable:
            fn, inputs, config, name, cpus, _ = future._spec
            function = self._functions[id(fn)]   # each function is sent once; its tasks share it
            if isinstance(function[1], Task):          # not sent yet: it goes with this plan
                new_functions[id(fn)] = function
            request = requests.get(cpus)
            if request is None:
                request = requests[cpus] = ResourceRequest(cpus) if cpus else None
            if as_calls:
                roots.append((function[1], config, name, cpus))
                continue
            refs = [function[1]] + [f._handle if f._handle is not None else built[id(f)] for f in inputs]
            task = Task(PY_CALL, refs, config, label=name, resource_request=request)
            built[id(future)] = task
            roots.append(task)
        functions = list(new_functions.values())
        refs = [ref for _, ref in functions]
        with contextlib.nullcontext() if as_calls else hooks.native_sending():   # listeners hear of them by native_flushed
            handles = self.core.submit_calls(roots, refs) if as_calls else self.core.submit(roots + refs)
        for future, handle in zip(sendable, handles):
            future._handle = handle
            future._spec = None
        # Functions stay on the server from now on and are not sent again.
        for (fn, _), handle in zip(functions, handles[len(sendable):]):
            self._functions[id(fn)] = (fn, handle)

    def _flush_from_timer(self):
        with contextlib.suppress(Exception):  # the next call that waits sends them again, reporting the error
            self.flush()

    # -- results ---------------------------------------------------------------------------------

    def _own(self, flat, where):
        if any(type(f) is not Future for f in flat):   # leaves of AnyApiFuture: another API's too
            refuse_others(flat, Future, where)
        for f in flat:
            if f.client is not self:
                raise ValueError("{!r} belongs to another client (the futures of a client are gathered by that "
                                 "client; decorated functions use treadle.default_client())".format(f))

    def gather(self, futures, timeout=None):
        """The results of futures; any structure of lists, tuples and dicts is kept (an iterator,
        such as what ``map`` yields, becomes a list). TimeoutError after ``timeout`` s."""
        __tracebackhide__ = True  # IPython shows the task's frames, not treadle's
        if isinstance(futures, collections.abc.Iterator):
            futures = list(futures)
        flat = walk.leaves(futures, _ANY_FUTURE)   # another API's future: refused, not taken as a value
        self._own(flat, "treadle.gather")
        self.flush()
        refused_calls.raise_first(flat)
        loom = [f._handle for f in flat if not f._has_value]
        if loom:
            self.core.raise_if_cancelled(loom, [f.key for f in flat if not f._has_value])
            try:
                with self._waiting(loom):
                    if timeout is not None:  # the tasks go on (as concurrent.futures)
                        self._watch([h.task_id for h in loom])
                        timed_wait.settle_within(self.core.connection, [h.task_id for h in loom],
                                                 self._settled, self._take_settled, timeout)
                    values = self.core.fetch(loom)
            except TaskFailed as error:
                failed = error
            else:
                failed = None
            if failed is not None:  # raised out of the except, which would replace its chain
                self._settled[failed.task_id] = False  # a Future's repr knows it too
                with raised_as_local:   # the caller's frames, then the task's (core.local_traceback)
                    raise TaskError.from_error(failed)
            it = iter(values)
            for f in flat:
                if not f._has_value:
                    f._value = next(it)
                    f._has_value = True
                    self._settled.pop(f._handle.task_id, None)  # done() and as_completed() know
        return walk.rebuild(futures, lambda f: f._value, Future, other_sequences_as_lists=True)

    def wait(self, futures):
        """Blocks until every future finished; raises TaskError if one failed."""
        __tracebackhide__ = True
        flat = walk.only_leaves(futures, _ANY_FUTURE, "treadle.wait()")
        self._own(flat, "treadle.wait")
        self.flush()
        refused_calls.raise_first(flat)
        loom = [f._handle for f in flat if not f._has_value]
        try:
            with self._waiting(loom):
                self.core.wait(loom)
        except TaskFailed as error:
            failed = error
        else:
            failed = None
        if failed is not None:
            with raised_as_local:
                raise TaskError.from_error(failed)
        for f in loom:  # the server's own word on them may still be on its way: done() is True now
            self._settled[f.task_id] = True

    def _waiting(self, handles):
        """Around a blocking wait: the kernel shows a progress line if it lasts."""
        if hooks.listeners and handles and not self._quiet_waits:
            return hooks.waiting(self, handles)
        return contextlib.nullcontext()

    def as_completed(self, futures):
        """Yields the futures as their tasks end (failed ones too: result() raises)."""
        futures = list(futures)
        self._own(futures, "treadle.as_completed")
        self.flush()
        yield from (f for f in futures if f.refused is not None)   # ended when their batch went
        by_id = {}
        for f in futures:
            if f.refused is None:
                by_id.setdefault(f._handle.task_id, []).append(f)
        self._watch(list(by_id))
        waiting = set(by_id)
        conn = self.core.connection

        def ready_ones():
            return [i for i in waiting
                    if i in self._settled or all(f._has_value or f._handle.cancelled() for f in by_id[i])]

        while waiting:
            ready = ready_ones()
            if not ready:
                with task_clients.blocking():  # inside a task: its cpu is free meanwhile
                    while not ready:
                        self._take_settled(conn.settled(1.0))
                        ready = ready_ones()
            for i in ready:
                waiting.discard(i)
                for f in by_id[i]:
                    yield f

    def _watch(self, ids):
        self._ends.watch(ids)

    def has_ended(self, future):
        """True once this client heard that the future's task finished or failed, or it was
        cancelled (does not ask)."""
        handle = future._handle
        return handle is not None and (handle.cancelled() or self._ends.is_settled(handle.task_id))

    def _take_settled(self, settled):
        self._ends.take(settled)

    def state_of(self, future):
        """A Future's state for its repr: what this client knows, else the server's word now
        (asked briefly: a server that does not answer leaves its last word, so said)."""
        handle, known = future._handle, future.known_state()
        released = handle is not None and handle.released()   # its result left the workers, or never came
        if handle is None or known is not None:
            return "released" if released and known == "finished" else known or "pending"
        known, names = ("released", _RELEASED_STATES) if released else ("submitted", _SHOWN_STATES)
        state, future._heard = state_now.word(self.core.connection, handle.task_id, known, names, future._heard)
        if state in ("finished", "failed"):
            self._settled[handle.task_id] = state == "finished"
        return state

    def settled_state(self, task_id):
        """True (finished) / False (failed) if the server said the task ended, else None."""
        return self._settled.get(task_id)

    def cancel(self, futures, reason=None):
        """Cancels those of ``futures`` whose tasks have not ended (their futures are cancelled: done,
        result() raises TaskCancelled, saying ``reason``; ended ones keep their results). Returns (cancelled,
        ended), as the server counted them: the tasks it cancelled, inputs nobody else needs included,
        and the futures that had ended already."""
        flat = [f for f in walk.only_leaves(futures, _ANY_FUTURE, "client.cancel()") if type(f) is Future]
        with contextlib.suppress(Exception):
            self.flush()
        done = sum(1 for f in flat if f._handle is None and f._has_value)
        report = self.core.cancel([f._handle for f in flat if f._handle is not None], reason)
        return Cancelled(report.cancelled, report.ended + done, report.failed)

    def release(self, futures):
        """Frees results on the workers."""
        flat = [f for f in walk.only_leaves(futures, _ANY_FUTURE, "client.release()") if type(f) is Future]
        if self._pending_take_futures or any(f._handle is None and not f._has_value for f in flat):
            self.flush()   # a call not sent yet may feed others or take these: send it, then let go
        self.core.release([f._handle for f in flat if f._handle is not None and not f._handle.released()])

    # -- the rest ----------------------------------------------------------------------------------

    def status(self):
        return self.core.status()

    def retire_workers(self, worker_ids):
        """Workers (ids as in ``status()``) leave on purpose after handing the results still
        needed to other workers (nothing is recomputed); returns their names."""
        return self.core.retire_workers(worker_ids)

    def story(self, futures):
        """Why is this task here? A future's (or a list's) transitions with times, workers and
        reasons, and why a waiting one is not running now; prints as text (treadle.core.story)."""
        return self.core.story([_story_key(f) for f in walk.only_leaves(futures, _ANY_FUTURE, "client.story()")
                                if type(f) is Future])

    def close(self):
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        with _default_lock:
            if _default["client"] is self:
                _default["client"] = None
        self.core.close()

    def __repr__(self):
        return ClusterSummary.of("treadle.Client", self.address, self.core.connection).text()

    def _repr_html_(self):
        """A notebook shows the cluster: server, workers, cpus, memory, tasks by state."""
        return ClusterSummary.of("treadle.Client", self.address, self.core.connection).html()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class TaskFunction:
    """A function that runs as a task when called (see ``task``)."""

    def __init__(self, fn, label=None, cpus=1, client=None):
        check_options("" if label is None else label, cpus)
        self.fn = fn
        self.label = label
        self.cpus = cpus
        self.client = client
        self.__name__ = getattr(fn, "__name__", "task")
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__wrapped__ = fn

    def __call__(self, *args, **kwargs):
        if task_clients.in_executor():
            # Inside a task a decorated function is a plain function: no cluster from a worker.
            return self.fn(*args, **kwargs)
        client = self.client or default_client()
        return client._call(self.fn, args, kwargs, self.label, self.cpus)

    def map(self, *iterables, **kwargs):
        return (self.client or default_client()).map(self.fn, *iterables, **kwargs)

    def local(self, *args, **kwargs):
        """Runs the function here, now (for debugging)."""
        return self.fn(*args, **kwargs)

    def __repr__(self):
        return "<treadle.task {}>".format(self.__name__)


def task(fn=None, *, label=None, cpus=1, client=None):
    """Decorator: calling the function runs it as a task and returns a Future.

    ``@treadle.task`` or ``@treadle.task(cpus=4, label="fit")``. Arguments may be futures,
    also inside lists, tuples and dicts. ``cpus=0`` makes a light task that may share a cpu.
    """
    if fn is None:
        check_options("" if label is None else label, cpus)   # at the decorator's line
        return lambda f: TaskFunction(f, label, cpus, client)
    return TaskFunction(fn, label, cpus, client)


# -- the default client --------------------------------------------------------------------------

_default = {"client": None, "cluster": None}
_default_lock = threading.RLock()  # default_client() makes a Client, which registers itself


def default_client(make=True):
    """The client that module-level calls use: connected to $TREADLE_ADDRESS, to the server
    the treadle kernel embeds, or else to a local cluster started now (one worker per core).
    Inside a task: the task's own client, of the cluster the task runs on. ``make=False``:
    None when there is none yet (nothing is started)."""
    scope = task_clients.current()
    if scope is not None:
        if scope.default is None:
            scope.default = Client()
        return scope.default
    client = _default["client"]
    if client is not None and not client.core.closed:  # every decorated call asks: no lock then
        return client
    if not make:
        return None
    with _default_lock:
        client = _default["client"]
        if client is not None and not client.core.closed:
            return client
        # In an executor (a thread a task started): the cluster it serves, never a new one.
        address = task_clients.server_address() or os.environ.get("TREADLE_ADDRESS") or embedded_server.embedded_address()
        if address is None:
            workers = os.cpu_count() or 1
            cluster = LocalCluster(workers=workers, cpus=1)
            _default["cluster"] = cluster
            address = cluster.address
            print("treadle: started a local cluster with {} worker{} at {}:{}".format(
                workers, "s" if workers > 1 else "", *address))
        client = Client(address)
        _default["client"] = client
        return client


def set_default_client(client):
    """Makes ``client`` (a treadle.Client; None: the usual one again) the one module-level calls use."""
    if client is not None and not isinstance(client, Client):
        raise TypeError("set_default_client() takes a treadle.Client (or None), not {}".format(type(client).__name__))
    with _default_lock:
        _default["client"] = client


def shutdown():
    """Closes the default client and stops the local cluster it started, if any."""
    with _default_lock:
        client, cluster = _default["client"], _default["cluster"]
        _default["client"] = _default["cluster"] = None
    if client is not None:
        client.close()
    if cluster is not None:
        cluster.close()


def submit(fn, *args, **kwargs):
    """``default_client().submit(fn, *args, **kwargs)``"""
    return default_client().submit(fn, *args, **kwargs)


def map(fn, *iterables, **kwargs):  # noqa: A001 - the concurrent.futures name
    """``default_client().map(fn, *iterables)``"""
    return default_client().map(fn, *iterables, **kwargs)


def gather(futures, timeout=None):
    """The results of futures, in the same structure."""
    __tracebackhide__ = True
    if isinstance(futures, collections.abc.Iterator):
        futures = list(futures)
    with raised_as_local:
        return _client_of(futures, "treadle.gather").gather(futures, timeout=timeout)


def wait(futures):
    __tracebackhide__ = True
    if isinstance(futures, collections.abc.Iterator):
        futures = list(futures)
    walk.only_leaves(futures, _ANY_FUTURE, "treadle.wait()")   # wait(42): an error, not a no-op
    with raised_as_local:
        _client_of(futures, "treadle.wait").wait(futures)


def as_completed(futures):
    futures = list(futures)
    return _client_of(futures, "treadle.as_completed").as_completed(futures)


def _client_of(futures, where):
    flat = walk.leaves(futures, _ANY_FUTURE)
    if any(type(f) is not Future for f in flat):
        refuse_others(flat, Future, where)
    return flat[0].client if flat else default_client()


def _story_key(future):
    """What Client.story asks about: the sent task's handle (it knows what cancelled the task),
    else its id."""
    task_id = future.task_id   # sends it first
    return future.handle if future.handle is not None else task_id
