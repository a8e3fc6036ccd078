"""``scoop.futures``: SCOOP's map, submit and mapReduce on treadle (PEP 3148 futures).

Every call becomes tasks of the cluster at once (one plan per call: a map of 1000 elements is
one plan, a mapReduce is its whole tree); results are fetched when asked for. Futures may be
submitted from inside futures, to any depth: a waiting future gives its cpu back."""

import builtins
import collections
import concurrent.futures
import inspect
import itertools
import warnings
import weakref

from ..core import state_now
from ..core.errors import TaskFailed, propagating_interrupt
from ..core.foreign import RefusesPickling, refuse_others
from ..core.local_traceback import raised_as_local, returned_as_local
from ..runtime.task_runtime import Ref
from . import pool as _pool
from .log import logger

FIRST_COMPLETED = concurrent.futures.FIRST_COMPLETED
FIRST_EXCEPTION = concurrent.futures.FIRST_EXCEPTION
ALL_COMPLETED = concurrent.futures.ALL_COMPLETED
CancelledError = concurrent.futures.CancelledError
TimeoutError = concurrent.futures.TimeoutError  # noqa: A001 - PEP 3148's name
DoneAndNotDoneFutures = collections.namedtuple("DoneAndNotDoneFutures", "done not_done")

_FETCH_CHUNK = 256   # results of an ordered map fetched per round trip, at most (as the native map)
_counter = itertools.count()
# A pending Future's repr in the server's words (states of core.client.ClientBase.states).
_SHOWN_STATES = {"running": "running", "finished": "finished", "failed": "failed", "cancelled": "cancelled"}


class Future(RefusesPickling):
    """A call running on the cluster (PEP 3148): ``result()``, ``exception()``, ``done()``,
    ``cancel()``, ``cancelled()``, ``running()``, ``add_done_callback(fn)``. Callbacks run in
    the process that submitted the future, when one of its SCOOP calls sees the future end."""

    __treadle_api__ = ("treadle.scoop", "f.result()")   # core.foreign: other APIs refuse it by name

    def __init__(self, pool, handle, fn):
        self.pool = pool
        self.handle = handle
        self.id = next(_counter)
        self.fn_name = getattr(fn, "__name__", "future")
        self._recorded_state = "pending"   # pending, finished, failed, cancelled
        self._value = None
        self._exception = None
        self._callbacks = []
        self._heard = None        # the server's last word on its state, and when (for its repr)

    @property
    def _state(self):
        """pending, finished, failed or cancelled: also cancelled once its task was, by whomever
        (its cancel(), the kernel's interrupt or %treadle stop: the handle says, core.client)."""
        if self._recorded_state == "pending" and self.handle.cancelled():
            self._recorded_state = "cancelled"
            self.settled_now()
        return self._recorded_state

    @_state.setter
    def _state(self, state):
        self._recorded_state = state

    def __repr__(self):
        return "<treadle.scoop Future {} {} {}>".format(self.id, self.fn_name, self._state_now())

    def _state_now(self):
        """The state for the repr: a pending future's task may have ended while nobody asked,
        so the server is asked (briefly: core.state_now); the result is not fetched."""
        if self._state != "pending":
            return self._state
        settled = self.pool.settled.get(self.handle.task_id)
        if settled is not None:
            return "finished" if settled else "failed"
        state, self._heard = state_now.word(self.pool.connection, self.handle.task_id, "pending", _SHOWN_STATES,
                                            self._heard)
        return state

    @property
    def __treadle_handle__(self):
        """Its task, for treadle.show (widgets.task_graph.StandsForATask)."""
        return self.handle

    # -- state -------------------------------------------------------------------------------------

    def _fetch(self):
        """Takes the result (or the failure) from the cluster, then frees it there. Once only: a
        done callback may have read the future already (while a wait polled the server)."""
        if self._state != "pending":
            return
        try:
            self._value = self.pool.fetch([self.handle])[0]
            self._state = "finished"
        except TaskFailed as error:
            self._exception = error
            self._state = "failed"
        self.handle.release()
        self.settled_now()

    def settled_now(self):
        """The pool saw the task end: run the callbacks (once)."""
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            try:
                callback(self)
            except Exception:
                logger.exception("a done callback of %r raised", self)

    def done(self):
        if self._state != "pending":
            return True
        if self.pool.is_settled(self.handle):
            self._fetch()
            return True
        return False

    def running(self):
        return not self.done()

    def cancelled(self):
        return self._state == "cancelled"

    def cancel(self):
        """Cancels the call if it has not ended; True if it was cancelled."""
        if self._state == "cancelled":
            return True
        if self.done():
            return False
        if self.pool.cancel([self.handle]).ended:
            return False   # it ended meanwhile: its result stays
        self._state = "cancelled"
        self.settled_now()
        return True

    def _wait(self, timeout):
        if self._state != "pending":
            return
        if timeout is not None and not self.pool.wait_settled([self.handle], 1, timeout):
            raise TimeoutError("the future {} did not end within {} s".format(self.id, timeout))
        self._fetch()

    def result(self, timeout=None):
        """The call's value (waiting for it); raises the call's own exception if it raised."""
        __tracebackhide__ = True
        with raised_as_local:   # the caller's frames, then the call's (also when raised again)
            self._wait(timeout)
            if self._state == "cancelled":
                raise self.handle.cancelled_error(self.fn_name)
            if self._exception is not None:
                raise self._exception
        return self._value

    def exception(self, timeout=None):
        """The exception the call raised, or None."""
        self._wait(timeout)
        if self._state == "cancelled":
            raise self.handle.cancelled_error(self.fn_name)
        return returned_as_local(self._exception)   # the task's frames, not those of _fetch

    def add_done_callback(self, callback):
        """Calls ``callback(future)`` when the future ends (at once if it has)."""
        if self._state != "pending":
            callback(self)
            return
        self._callbacks.append(callback)
        self.pool.watch([self.handle])
        self.pool.listeners.setdefault(self.handle.task_id, []).append(self)


# -- making futures ----------------------------------------------------------------------------------

def submit(func, *args, **kwargs):
    """Runs ``func(*args, **kwargs)`` on the cluster; returns its Future."""
    pool = _pool.current()
    new = []
    task = pool.call(func, args, kwargs, new=new)
    return Future(pool, pool.send([task], new)[0], func)


def _map_futures(func, iterables, pool=None):
    pool = pool or _pool.current()
    new = []
    tasks = [pool.call(func, args, new=new) for args in zip(*iterables)]
    if not tasks:
        return []
    return [Future(pool, handle, func) for handle in pool.send(tasks, new)]


def map(func, *iterables):  # noqa: A001 - SCOOP's name
    """Like the built-in map, on the cluster: every call is submitted now; the generator
    yields the results in the order of the inputs (the first exception raises there).

    In a program not started by the launcher (no cluster found), SCOOP's map falls back to the
    built-in serial ``map`` with a RuntimeWarning, once: so does this one (the other calls raise
    NotRunningError, as SCOOP's raise NotStartedProperly)."""
    try:
        pool = _pool.current()
    except _pool.NotRunningError:
        _warn_serial_once()
        return builtins.map(func, *iterables)
    futures = _map_futures(func, iterables, pool)
    results = _ordered_results(futures)
    _maps[results] = futures
    return results


_maps = weakref.WeakKeyDictionary()   # a map's generator -> its futures (map_futures)
_warned_serial = []   # non-empty once map's serial fallback has warned


def _warn_serial_once():
    if not _warned_serial:
        _warned_serial.append(True)
        warnings.warn("SCOOP was not started properly.\nBe sure to start your program with the "
                      "'-m treadle.scoop' parameter (python3 -m treadle.scoop program.py).\n"
                      "Your map call has been replaced by the builtin serial Python map().",
                      RuntimeWarning, stacklevel=3)


def map_futures(obj):
    """The futures of ``obj`` if it is a ``map``'s generator that nothing read yet (its calls
    run; %%treadle submit binds the list of their results), else None."""
    if inspect.isgenerator(obj) and inspect.getgeneratorstate(obj) == inspect.GEN_CREATED:
        futures = _maps.get(obj)
        return list(futures) if futures is not None else None
    return None


def _ordered_results(futures):
    try:
        for start in range(0, len(futures), _FETCH_CHUNK):
            chunk = [f for f in futures[start:start + _FETCH_CHUNK] if f._state == "pending"]
            if chunk:
                _fetch_together(chunk)
            for future in futures[start:start + _FETCH_CHUNK]:
                with raised_as_local:   # leaves the generator as it left result()
                    value = future.result()
                yield value
    finally:
        chunk = future = None
        if not propagating_interrupt():   # an interrupt's are the interrupt's business
            _drop_unread(futures)


def _drop_unread(futures):
    """A map that ended early (a call raised, its consumer stopped) cancels the calls not read
    yet and frees their results now: a traceback IPython keeps would hold them until replaced."""
    pending = [f for f in futures if f._state == "pending"]
    futures.clear()
    if pending and not pending[0].pool.closed:
        pending[0].pool.cancel([f.handle for f in pending])
        pending[0].pool.release([f.handle for f in pending])


def results(fs):
    """The values of the futures ``fs``, in order, fetched a chunk at a time (one round trip
    per 256 results, as ``map``), once all ended; a call that fails raises here as soon as it
    fails, as its ``result()`` does (as a native gather), and the others go on (unlike a map,
    nothing is cancelled). ``%%treadle submit`` binds SCOOP's futures with it."""
    fs = list(fs)
    pending = [f for f in fs if f._state == "pending"]
    if pending:
        pool = pending[0].pool
        pool.wait_settled([f.handle for f in pending], len(pending), until_failure=True)
        failed = next((f for f in pending if pool.settled.get(f.handle.task_id) is False), None)
        if failed is not None:
            with raised_as_local:
                failed.result()
    for start in range(0, len(fs), _FETCH_CHUNK):
        chunk = [f for f in fs[start:start + _FETCH_CHUNK] if f._state == "pending"]
        if chunk:
            _fetch_together(chunk)
    with raised_as_local:
        return [f.result() for f in fs]


def _fetch_together(futures):
    """One round trip for several results (one by one if one of them failed)."""
    pool = futures[0].pool
    try:
        values = pool.fetch([f.handle for f in futures])
    except TaskFailed:
        values = None
    if values is None:  # one by one, outside the except (their errors' context would be its error)
        for future in futures:
            if future._state == "pending":
                future._fetch()
        futures = future = None  # a failed one's traceback holds this frame (f_back): not the others
        return
    pool.release([f.handle for f in futures])   # one message for the chunk, not one per result
    for future, value in zip(futures, values):
        future._value, future._state = value, "finished"
    for future in futures:   # after all are set: a callback may read any future of the chunk
        future.settled_now()


def map_as_completed(func, *iterables):
    """As ``map``, but yields each result as soon as it is there."""
    futures = _map_futures(func, iterables)
    try:
        for future in as_completed(futures):
            with raised_as_local:
                value = future.result()
            yield value
    finally:
        future = None
        if not propagating_interrupt():
            _drop_unread(futures)


def mapReduce(mapFunc, reductionOp, *iterables):  # noqa: N802,N803 - SCOOP's names
    """``reduce(reductionOp, map(mapFunc, *iterables))`` as one plan: the map calls at the
    bottom, then a binary tree of reductions (neighbours pair up, so the order of the
    operands is kept and an associative ``reductionOp`` gives reduce's result)."""
    pool = _pool.current()
    new = []
    level = [pool.call(mapFunc, args, new=new) for args in zip(*iterables)]
    if not level:
        raise TypeError("mapReduce() of empty data with no initial value")
    pair = (Ref(_pool.ARGUMENTS), Ref(_pool.ARGUMENTS + 1))
    while len(level) > 1:
        up = [pool.call(reductionOp, pair, inputs=level[i:i + 2], new=new) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            up.append(level[-1])
        level = up
    with raised_as_local:
        return Future(pool, pool.send(level, new)[0], reductionOp).result()


# -- waiting ----------------------------------------------------------------------------------------

def wait(fs, timeout=None, return_when=ALL_COMPLETED):
    """PEP 3148's wait: (done, not_done) sets once all (or the first, or the first failed)
    ended, or ``timeout`` passed."""
    fs = set(fs)
    refuse_others(fs, Future, "scoop futures.wait")
    pending = [f for f in fs if f._state == "pending"]
    if pending:
        by_handle = {f.handle.task_id: f for f in pending}
        pool = pending[0].pool
        count = len(pending) if return_when == ALL_COMPLETED else 1
        if return_when == FIRST_EXCEPTION:
            count = len(pending)
        ended = pool.wait_settled([f.handle for f in pending], count, timeout,
                                  until_failure=return_when == FIRST_EXCEPTION)
        for handle in ended:
            by_handle[handle.task_id]._fetch()
    done = {f for f in fs if f._state != "pending"}
    return DoneAndNotDoneFutures(done, fs - done)


def as_completed(fs, timeout=None):
    """Yields the futures as they end (failed ones too: their result() raises)."""
    left = list(dict.fromkeys(fs))
    refuse_others(left, Future, "scoop futures.as_completed")
    for f in [f for f in left if f._state != "pending"]:
        left.remove(f)
        yield f
    while left:
        pool = left[0].pool
        ended = pool.wait_settled([f.handle for f in left], 1, timeout)
        if not ended:
            raise TimeoutError("{} futures did not end within {} s".format(len(left), timeout))
        ids = {h.task_id for h in ended}
        for f in [f for f in left if f.handle.task_id in ids]:
            left.remove(f)
            f._fetch()
            yield f
