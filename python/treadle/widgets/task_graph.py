"""The model of the task graph widget: a :class:`TaskGraph` (nodes with label, type, server id
and inputs) made from native futures, HyperLoom futures or Task objects, walking inputs; the
plans sent earlier are read from the record of submitted plans (treadle.core.lineage)."""

import abc
import collections

from .. import api
from ..core import lineage, walk
from ..core.address import server_key
from ..core.client import TaskHandle
from ..core.task import PY_CALL, Task
from ..trace import label_group, type_name

WALK_LIMIT = 1_000_000      # tasks walked from the roots at most


def group_of(label, task_type):
    """Tasks group by label (HyperLoom's rule); unlabelled ones by their type, named as a user
    would ("const", not "loom/data/const")."""
    return label_group(label) if label else type_name(task_type)


# -- the graph ---------------------------------------------------------------------------------

class TaskGraph:
    """Nodes (parallel lists) and, per node, the indices of its inputs."""

    def __init__(self):
        self.keys, self.labels, self.types, self.ids, self.inputs = [], [], [], [], []
        self.known = []        # a state the client knows already (a result held), else None
        self.conn = None       # a connection to the server of the ids (for states, trace)
        self.server = None     # that server's (host, port)
        self._index = {}

    def __len__(self):
        return len(self.keys)

    def add(self, key, label, task_type, task_id=None, known=None):
        i = self._index.get(key)
        if i is None:
            i = self._index[key] = len(self.keys)
            self.keys.append(key)
            self.labels.append(label or "")
            self.types.append(task_type or "")
            self.ids.append(task_id)
            self.inputs.append([])
            self.known.append(known)
        return i

    def index(self, key):
        return self._index.get(key)

    def edges(self):
        return [(a, b) for b, ins in enumerate(self.inputs) for a in ins]

    def groups(self):
        return [group_of(l, t) for l, t in zip(self.labels, self.types)]


class StandsForATask(abc.ABC):
    """A future of another API (SCOOP's) that names its task's TaskHandle by a
    ``__treadle_handle__`` attribute, so treadle.show draws it without knowing that API."""

    @classmethod
    def __subclasshook__(cls, other):
        return True if any("__treadle_handle__" in vars(k) for k in other.__mro__) else NotImplemented


def collect(obj, limit=WALK_LIMIT, connection_for=None):
    """The TaskGraph of ``obj``: futures, tasks, a %%treadle submit handle (anything with a
    ``futures`` dict), or lists, tuples, sets and dicts of them. ``connection_for(server)``: a
    connection to ask about tasks of a server no live client of this process submitted to."""
    if isinstance(obj, TaskGraph):
        return obj
    g = TaskGraph()
    roots_by_server = collections.OrderedDict()   # server -> [task ids] to walk through lineage
    clients = {}
    native_pending, tasks = [], []

    known = {}

    def submitted(task_id, client, native):
        key = server_key(client.address)
        roots_by_server.setdefault(key, []).append(task_id)
        clients.setdefault(key, client)
        if native is not None and native.known_state() is not None:
            known[task_id] = native.known_state()

    def visit(value):
        if hasattr(value, "futures") and isinstance(value.futures, dict):  # a %%treadle submit handle
            value = value.futures
        for x in walk.leaves(value, (api.Future, TaskHandle, Task, StandsForATask), max_depth=32):
            if isinstance(x, StandsForATask) and not isinstance(x, (api.Future, TaskHandle, Task)):
                handle = x.__treadle_handle__
                submitted(handle.task_id, handle.client, None)
            elif isinstance(x, api.Future):
                if x.handle is None:
                    native_pending.append(x)
                else:
                    submitted(x.handle.task_id, x.handle.client, x)
            elif isinstance(x, TaskHandle):   # HyperLoom's futures are TaskHandles
                submitted(x.task_id, x.client, None)
            else:
                found = lineage.task_id(x)
                if found is not None:
                    server, task_id = found
                    roots_by_server.setdefault(server, []).append(task_id)
                    clients.setdefault(server, lineage.client_for(server))
                else:
                    tasks.append(x)

    if not lineage.enabled():
        lineage.enable()    # from now on submitted plans are remembered (the notebook does it at start)
    visit(obj)
    if native_pending:
        # Drawing futures means sending them (they would go within milliseconds anyway): then
        # they have ids, and their states can be asked for.
        for client in {id(f.client): f.client for f in native_pending}.values():
            client.flush()
        pending, native_pending = native_pending, []
        visit(pending)
    for server, roots in roots_by_server.items():
        _add_remembered(g, server, roots, known, clients.get(server), limit, connection_for)
    _add_pending_native(g, native_pending, limit)
    _add_tasks(g, tasks, limit)
    return g


def from_submissions(submissions, limit=WALK_LIMIT, connection_for=None):
    """The TaskGraph of plans sent (lineage.Submission): what ``%treadle graph`` draws by default.
    The function objects the native API sends with its calls are left out."""
    g = TaskGraph()
    by_server = collections.OrderedDict()
    for sub in submissions:
        by_server.setdefault(sub.server, []).extend(sub.roots)
    for server, roots in by_server.items():
        _add_remembered(g, server, roots, {}, lineage.client_for(server), limit, connection_for, skip_functions=True)
    return g


def from_ids(server, roots, limit=WALK_LIMIT, connection_for=None):
    """The TaskGraph behind task ids submitted to ``server`` (host, port)."""
    g = TaskGraph()
    server = server_key(server)
    _add_remembered(g, server, list(roots), {}, lineage.client_for(server), limit, connection_for)
    return g


def _add_remembered(g, server, roots, known, client, limit, connection_for=None, skip_functions=False):
    nodes = lineage.walk(server, roots, limit)
    if skip_functions:
        used = set(i for info in nodes.values() if info is not None for i in info[2])
        nodes = {t: info for t, info in nodes.items()
                 if t in used or info is None or info[1] not in lineage.FUNCTION_TYPES}
    if g.conn is None:
        g.conn = client.connection if client is not None else connection_for(server) if connection_for else None
        g.server = server
    # inputs first: ids only grow, and a plan's inputs come before their consumers
    for task_id in sorted(nodes):
        info = nodes[task_id]
        label, task_type = (info[0], info[1]) if info is not None else ("", "")
        g.add(str(task_id), label, task_type, task_id, known.get(task_id))
    for task_id, info in nodes.items():
        if info is None:
            continue
        me = g.index(str(task_id))
        g.inputs[me] = [g.index(str(i)) for i in info[2] if g.index(str(i)) is not None]


def _add_pending_native(g, futures, limit):
    """Native futures not sent yet: their inputs are in the spec they keep until sent."""
    stack = list(futures)
    order = []
    seen = set()
    while stack and len(seen) < limit:
        f = stack.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        order.append(f)
        stack.extend(f.pending_inputs())
    for f in reversed(order):
        if f.handle is not None:
            g.add(str(f.handle.task_id), f.label, PY_CALL, f.handle.task_id, "finished" if f.has_result() else None)
        else:
            g.add("new:" + f.key, f.label, PY_CALL, None, "pending")
    for f in order:
        if f.handle is None:
            me = g.index("new:" + f.key)
            g.inputs[me] = [g.index(_native_key(i)) for i in f.pending_inputs() if g.index(_native_key(i)) is not None]


def _native_key(f):
    return str(f.handle.task_id) if f.handle is not None else "new:" + f.key


def _add_tasks(g, roots, limit):
    """Task objects (not submitted, or submitted without their ids known): walk their inputs."""
    if not roots:
        return
    order, seen = [], set()
    stack = [(r, False) for r in roots]
    while stack and len(order) < limit:
        t, expanded = stack.pop()
        if expanded:
            order.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        stack.append((t, True))
        for x in t.inputs or ():
            if isinstance(x, Task) and id(x) not in seen:
                stack.append((x, False))
    keys = {}
    for t in order:
        keys[id(t)] = g.add("new:{}".format(len(keys)), t.label or "", t.task_type, None, "pending")
    for t in order:
        ins = []
        for x in t.inputs or ():
            if isinstance(x, Task) and id(x) in keys:
                ins.append(keys[id(x)])
            elif isinstance(x, TaskHandle):
                ins.append(g.add(str(x.task_id), "", "", x.task_id, None))
        g.inputs[keys[id(t)]] = ins
