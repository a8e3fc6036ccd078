"""What the task graph of submitted futures looks like: the plans this process submitted,
remembered as the columns they were sent as (types, labels, inputs), so a graph can be drawn
from futures long after their Task objects are gone.

A submitted future knows only its task id, and the native API's futures forget their inputs
once sent. So this module listens to the clients (``treadle.client_hooks``; the kernel
enables it at start, :func:`enable` elsewhere): each plan's encoded columns are kept
(no copy: the bytes that were sent; about 20 bytes per task), newest first, up to
``KEEP_TASKS`` tasks per server. ``walk`` then rebuilds the graph behind any task ids.
"""

import bisect
import collections
import itertools
import threading
import time
import weakref
from array import array

from .. import client_hooks

KEEP_TASKS = 2_000_000          # tasks remembered per server (the oldest plans are forgotten)
_LOCAL = 1 << 63
FUNCTION_TYPES = ("loom/py/value",)   # what the native API sends with its calls

enabled = False
_lock = threading.Lock()
_servers = {}                   # (host, port) -> _Plans
_recent = collections.deque(maxlen=256)   # Submissions, newest last
_task_ids = weakref.WeakKeyDictionary()   # Task object -> (server, task id), once submitted
_clients = {}                   # server -> weak reference to a client that submitted there
MAP_ALL_TASKS = 20_000          # plans up to this size map every Task object to its id (else the roots)


class _Plan:
    __slots__ = ("base", "count", "types", "labels", "type_of", "label_of", "counts", "inputs", "_starts")

    def __init__(self, base, types, labels, frames):
        self.base = base
        self.type_of = memoryview(frames[0]).cast("I")
        self.count = len(self.type_of)
        self.types = types
        self.labels = labels
        self.counts = memoryview(frames[2]).cast("I")
        self.inputs = memoryview(frames[3]).cast("Q")
        self.label_of = memoryview(frames[6]).cast("I")
        self._starts = None

    def starts(self):
        if self._starts is None:   # where each task's inputs begin, made on first use
            starts = array("Q", [0])
            starts.extend(itertools.accumulate(self.counts))
            self._starts = starts
        return self._starts

    def task(self, task_id):
        """(label, type, input ids) of a task of this plan."""
        i = task_id - self.base
        starts = self.starts()
        base = self.base
        ids = [base + (x & ~_LOCAL) if x & _LOCAL else x for x in self.inputs[starts[i]:starts[i + 1]]]
        return self.labels[self.label_of[i]], self.types[self.type_of[i]], ids


class _Plans:
    def __init__(self):
        self.bases = []
        self.plans = []
        self.tasks = 0

    def add(self, plan):
        i = bisect.bisect_right(self.bases, plan.base)
        self.bases.insert(i, plan.base)
        self.plans.insert(i, plan)
        self.tasks += plan.count
        while self.tasks > KEEP_TASKS and len(self.plans) > 1:
            old = self.plans.pop(0)
            self.bases.pop(0)
            self.tasks -= old.count

    def find(self, task_id):
        i = bisect.bisect_right(self.bases, task_id) - 1
        if i >= 0:
            plan = self.plans[i]
            if task_id < plan.base + plan.count:
                return plan
        return None


def server_key(address):
    host, port = address
    return ("127.0.0.1" if host in ("localhost", "") else host, int(port))


class _Listener(client_hooks.ClientListener):
    def plan_submitted(self, client, plan, tasks, futures):
        submitted(client, plan, tasks, futures)


_listener = _Listener()


def enable():
    """Remember the plans this process submits from now on (the kernel does it at start)."""
    global enabled
    client_hooks.add(_listener)
    enabled = True


def submitted(client, sent, tasks, futures):
    """A HyperLoom client's submit(tasks) sent the plan ``sent`` (a client_hooks.SentPlan) and
    returned ``futures``: remember it."""
    if not futures or not sent.count:
        return
    base = sent.base
    plan = _Plan(base, list(sent.types), list(sent.labels), sent.frames)
    from ..loom.client.task import Task
    roots = [f.task_id for t, f in zip(tasks, futures) if isinstance(t, Task)]
    key = server_key(client.address)
    _clients[key] = weakref.ref(client)
    order = sent.tasks
    try:
        if len(order) == plan.count and plan.count <= MAP_ALL_TASKS:
            for k, t in enumerate(order):
                _task_ids[t] = (key, base + k)
        else:
            for t, f in zip(tasks, futures):
                if isinstance(t, Task):
                    _task_ids[t] = (key, f.task_id)
    except TypeError:
        pass   # a Task subclass without weak references
    with _lock:
        _recent.append(Submission(_cell_seq(), time.time() * 1e6, key, roots, base, base + plan.count))
        plans = _servers.get(key)
        if plans is None:
            plans = _servers[key] = _Plans()
        plans.add(plan)


class Submission:
    """One plan sent: the cell that sent it, when (µs, wall clock), where, its roots, its ids."""

    __slots__ = ("cell", "time_us", "server", "roots", "first", "end")

    def __init__(self, cell, time_us, server, roots, first, end):
        self.cell, self.time_us, self.server, self.roots, self.first, self.end = (
            cell, time_us, server, roots, first, end)


def _cell_seq():
    from .. import kernel_support
    t = kernel_support.tracker()
    if t is None:
        return None
    return t._running if t._running is not None else t._seq


def last_submission():
    """The plans the last cell that submitted sent (native calls go in several), oldest
    first; [] when nothing was remembered."""
    with _lock:
        recent = list(_recent)
    if not recent:
        return []
    cell = recent[-1].cell
    if cell is None:
        return recent[-1:]
    return [s for s in recent if s.cell == cell]


# -- reading -------------------------------------------------------------------------------------

def client_for(server):
    """A live HyperLoom client that submitted to ``server``, or None."""
    ref = _clients.get(server)
    client = ref() if ref is not None else None
    return client if client is not None and getattr(client, "_conn", None) is not None else None


def task_id(task):
    """(server, task id) of a submitted Task object, or None."""
    try:
        return _task_ids.get(task)
    except TypeError:
        return None


def lookup(address, task_id):
    """(label, type, input ids) of a remembered task, or None."""
    with _lock:
        plans = _servers.get(server_key(address))
        plan = plans.find(task_id) if plans is not None else None
    return plan.task(task_id) if plan is not None else None


def walk(address, roots, limit=1_000_000):
    """The graph behind task ids ``roots``: {task id: (label, type, input ids)}, inputs first
    where known; unknown tasks (not remembered) map to None. Function objects (the inputs
    the native API adds to every call) are left out. Stops after ``limit`` tasks."""
    with _lock:
        plans = _servers.get(server_key(address))
    out = {}
    stack = list(roots)
    while stack and len(out) < limit:
        task_id = stack.pop()
        if task_id in out:
            continue
        plan = plans.find(task_id) if plans is not None else None
        if plan is None:
            out[task_id] = None
            continue
        label, task_type, inputs = plan.task(task_id)
        if task_type == "loom/py/call" and inputs:
            inputs = inputs[1:]    # the function: the same for every call, not a step of the graph
        out[task_id] = (label, task_type, inputs)
        stack.extend(i for i in inputs if i not in out)
    return out
