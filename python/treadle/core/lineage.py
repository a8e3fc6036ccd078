"""The record of submitted plans: what the task graph of submitted futures looks like, long
after their Task objects are gone.

A submitted future knows only its task id, and the native API's futures forget their inputs
once sent. So this module listens to the clients (``core.hooks``; the notebook enables it at
start, :func:`enable` elsewhere): each plan's encoded columns are kept (no copy: the bytes
that were sent; about 20 bytes per task), newest first, up to ``KEEP_TASKS`` tasks per
server. A server restarted on the same port numbers its tasks again, so what was remembered of
its earlier run is forgotten once a client meets the new run. ``walk`` then rebuilds the graph behind any task ids. Each plan is tagged with what
``set_tagger``'s function says when its calls were made (the notebook: the cell that made them,
also when a flush timer sends them after that cell ended).
"""

import collections
import threading
import time
import weakref

from . import hooks
from .address import server_key
from .plan import PlanIndex, SubmittedPlan
from .task import PY_VALUE, Task

KEEP_TASKS = 2_000_000          # tasks remembered per server (the oldest plans are forgotten)
FUNCTION_TYPES = (PY_VALUE,)    # what the native API sends with its calls
MAP_ALL_TASKS = 20_000          # plans up to this size map every Task object to its id (else the roots)

_state = {"enabled": False, "tagger": None}
_lock = threading.Lock()
_servers = {}                   # (host, port) -> PlanIndex
_recent = collections.deque(maxlen=256)   # Submissions, newest last
_task_ids = weakref.WeakKeyDictionary()   # Task object -> (server, task id, server's run), once submitted
_runs = {}                      # server -> the name of its run the plans in _servers[server] went to
_clients = {}                   # server -> weak reference to a client that submitted there


def enabled():
    return _state["enabled"]


class _Listener(hooks.ClientListener):
    def client_created(self, client):
        _meet(server_key(client.address), client)

    def plan_submitted(self, client, base, plan, tasks, futures):
        submitted(client, base, plan, tasks, futures)

    def submit_deferred(self, client):
        """A call sent later (a flush timer's, after its cell ended): its tag is told now."""
        tagger = _state["tagger"]
        return tagger() if tagger is not None else None


_listener = _Listener()


def enable():
    """Remember the plans this process submits from now on (the notebook does it at start)."""
    hooks.add(_listener)
    _state["enabled"] = True


def disable():
    hooks.remove(_listener)
    _state["enabled"] = False


def set_tagger(tag):
    """``tag()`` names what sends each plan from now on (None: nothing does)."""
    _state["tagger"] = tag


def _meet(key, client):
    """The run of the server ``client`` is connected to: a new one forgets the old run's plans."""
    run = client.connection.server_instance
    with _lock:
        if _runs.get(key) == run:
            return run
        _runs[key] = run
        _servers.pop(key, None)
        kept = [s for s in _recent if s.server != key]
        _recent.clear()
        _recent.extend(kept)
    return run


def submitted(client, base, encoded, tasks, futures):
    """A client's submit(tasks) sent the plan ``encoded`` (a core.plan.EncodedPlan, its ids from
    ``base``) and returned ``futures``: remember it."""
    if not futures or not encoded.count:
        return
    plan = SubmittedPlan(base, encoded)
    roots = [f.task_id for t, f in zip(tasks, futures) if isinstance(t, Task)]
    key = server_key(client.address)
    run = _meet(key, client)
    _clients[key] = weakref.ref(client)
    order = encoded.tasks
    try:
        if len(order) == plan.count and plan.count <= MAP_ALL_TASKS:
            for k, t in enumerate(order):
                _task_ids[t] = (key, base + k, run)
        else:
            for t, f in zip(tasks, futures):
                if isinstance(t, Task):
                    _task_ids[t] = (key, f.task_id, run)
    except TypeError:
        pass   # a Task subclass without weak references
    tag = hooks.deferred_token(_listener)   # calls a flush timer sent: the tag of when they were made
    if tag is None and _state["tagger"] is not None:
        tag = _state["tagger"]()
    with _lock:
        _recent.append(Submission(tag, time.time() * 1e6, key, roots, base,
                                  base + plan.count))
        plans = _servers.get(key)
        if plans is None:
            plans = _servers[key] = PlanIndex(KEEP_TASKS)
        plans.add(plan)


class Submission:
    """One plan sent: what sent it (its tag: a cell), when (µs, wall clock), where, its roots, its ids."""

    __slots__ = ("cell", "time_us", "server", "roots", "first", "end")

    def __init__(self, cell, time_us, server, roots, first, end):
        self.cell, self.time_us, self.server, self.roots, self.first, self.end = (
            cell, time_us, server, roots, first, end)


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
    """A live client that submitted to ``server``, or None."""
    ref = _clients.get(server)
    client = ref() if ref is not None else None
    return client if client is not None and not client.closed else None


def task_id(task):
    """(server, task id) of a submitted Task object, or None (also when that server was restarted)."""
    try:
        found = _task_ids.get(task)
    except TypeError:
        return None
    if found is None or _runs.get(found[0]) != found[2]:
        return None
    return found[:2]


def lookup(address, task_id):
    """(label, type, input ids) of a remembered task, or None."""
    with _lock:
        plans = _servers.get(server_key(address))
        plan = plans.find(task_id) if plans is not None else None
    return plan.task(task_id) if plan is not None else None


def plan_kinds(address, base):
    """(labels, types, [(label index, type index)] in id order) of the remembered plan whose
    first task is ``base``, or None: a whole plan's labels at once (a lookup per task costs
    ~10 µs)."""
    with _lock:
        plans = _servers.get(server_key(address))
        plan = plans.find(base) if plans is not None else None
    if plan is None or plan.base != base:
        return None
    return plan.labels, plan.types, list(plan.kinds())


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
        out[task_id] = plan.steps(task_id)
        stack.extend(i for i in out[task_id][2] if i not in out)
    return out
