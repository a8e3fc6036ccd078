"""The plan format: a graph of Task objects as the columns of a "submit" message, written by
``encode`` and read back by name (``EncodedPlan``, ``SubmittedPlan``), here and nowhere else.

Tasks are ordered so that every task comes after its inputs (the server relies on it, so a
plan can have no cycle); the walk is iterative, so million-task chains do not hit Python's
recursion limit. A Task object shared by several tasks is submitted once.
"""

import bisect
import itertools
import os
from array import array

from .task import OUTPUT_SHIFT, PY_CALL, TASK_MASK, ResourceRequest, Task, TaskOutput

_LOCAL = 1 << 63
_REDIRECT_INPUT = 1 << 62  # in a redirect plan: the redirected task's own input at a position
_VISITING = -1


class PlanError(ValueError):
    """The graph cannot be submitted (a cycle, a foreign or released future, a wrong input)."""


def order_tasks(roots, leaf_ref):
    """Returns the tasks reachable from ``roots`` (Task objects), inputs first, and the
    references of the inputs that are not tasks: futures (``leaf_ref(leaf, task)`` gives them)
    and outputs of tasks of the plan (``task.output(k)``)."""
    order = []
    leaves = {}    # id(leaf) -> its reference
    position = {}  # id(task) -> index in order, or _VISITING while its inputs are walked
    outputs = []   # TaskOutput inputs: their references once their tasks have positions
    for root in roots:
        if id(root) in position:
            continue
        position[id(root)] = _VISITING
        stack = [(root, iter(root.inputs or ()))]
        while stack:
            task, inputs = stack[-1]
            for child in inputs:
                if type(child) is Task or isinstance(child, Task):
                    state = position.get(id(child))
                    if state is None:
                        if not child.inputs:  # a source task: placed at once, no stack frame
                            position[id(child)] = len(order)
                            order.append(child)
                            continue
                        position[id(child)] = _VISITING
                        stack.append((child, iter(child.inputs)))
                        break
                    if state == _VISITING:
                        raise PlanError("the plan has a cycle through {!r}".format(child))
                elif type(child) is TaskOutput:
                    if id(child) not in leaves:
                        leaves[id(child)] = None
                        outputs.append(child)
                    producer = child.task
                    if not isinstance(producer, Task):
                        raise bad_input(task, child)
                    state = position.get(id(producer))
                    if state is None:
                        position[id(producer)] = _VISITING
                        stack.append((producer, iter(producer.inputs or ())))
                        break
                    if state == _VISITING:
                        raise PlanError("the plan has a cycle through {!r}".format(producer))
                elif id(child) not in leaves:
                    leaves[id(child)] = leaf_ref(child, task)
            else:
                stack.pop()
                position[id(task)] = len(order)
                order.append(task)
    for out in outputs:
        count = out.task.output_count()
        if isinstance(out.index, bool) or not isinstance(out.index, int) or not 0 <= out.index < count:
            raise PlanError("an input names output {!r} of {!r}, which has {} output{}".format(
                out.index, out.task, count, "" if count == 1 else "s"))
        leaves[id(out)] = _LOCAL | out.index << OUTPUT_SHIFT | position[id(out.task)]
    return order, position, leaves


def bad_input(task, child):
    """The error for an input that is neither a task nor a future."""
    return TypeError("an input of {!r} is {!r}: inputs must be tasks or futures".format(task, child))


def encode(roots, leaf_ref):
    """The EncodedPlan of the tasks ``roots`` and every task they need; ``leaf_ref(leaf, task)``
    gives the id of an input that is not a Task (a future of a submitted task), or raises."""
    return _encode(roots, leaf_ref)


def encode_redirect(task):
    """The plan a Python task returned, for the worker: inputs of the running task (wrappers)
    become references to its own inputs by position."""
    def ref(child, parent):
        position = getattr(child, "position", None)
        if position is None:
            raise PlanError("a returned task may use only the task's own inputs and new tasks, not {!r}".format(child))
        return _REDIRECT_INPUT | position
    plan = _encode([task], ref)
    plan.checkpoints = []  # checkpoints count in submitted plans only
    return plan


def _encode(roots, leaf_ref):
    order, position, leaves = order_tasks(roots, leaf_ref)
    types, type_ids = [], {}
    labels, label_ids = [""], {"": 0}
    type_of = array("I")
    cpus = array("I")
    input_counts = array("I")
    inputs = array("Q")
    configs = []
    checkpoints = []
    outputs = []   # (position, labels, content types) of tasks with other than one unnamed output
    label_of = array("I")
    # The loop runs once per task of plans of millions: its lookups are hoisted.
    add_type, add_cpus, add_count, add_input = type_of.append, cpus.append, input_counts.append, inputs.append
    add_config, add_label = configs.append, label_of.append
    get_position = position.get
    for task in order:
        task_type = task.task_type
        tid = type_ids.get(task_type)
        if tid is None:
            if not isinstance(task_type, str) or not task_type:
                raise PlanError("{!r} has no task_type".format(task))
            tid = type_ids[task_type] = len(types)
            types.append(task_type)
        add_type(tid)
        request = task.resource_request
        if request is None:
            add_cpus(0)
        elif type(request) is ResourceRequest or isinstance(request, ResourceRequest):
            add_cpus(request.cpus)
        else:
            raise PlanError("{!r} has resource_request {!r}; use tasks.cpus(n)".format(task, request))
        task_inputs = task.inputs
        if task_inputs:
            for child in task_inputs:
                local = get_position(id(child))
                add_input(leaves[id(child)] if local is None else _LOCAL | local)
            add_count(len(task_inputs))
        else:
            add_count(0)
        config = task.config
        if type(config) is not bytes:
            if config is None:
                config = b""
            elif isinstance(config, str):
                config = config.encode()
            elif isinstance(config, (bytes, bytearray, memoryview)):
                config = bytes(config)
            else:
                raise PlanError("{!r} has config of type {}; use bytes or str".format(task, type(config).__name__))
        add_config(config)
        if task.checkpoint_path is not None:
            checkpoints.append((len(configs) - 1, _checkpoint_path(task)))
        if task.outputs is not None:
            outputs.append((len(configs) - 1, [o.label for o in task.outputs], [o.content_type for o in task.outputs]))
        label = task.label
        if label:
            lid = label_ids.get(label)
            if lid is None:
                lid = label_ids[label] = len(labels)
                labels.append(str(label))
            add_label(lid)
        else:
            add_label(0)
    config_offsets = array("Q", [0])
    config_offsets.extend(itertools.accumulate(map(len, configs)))
    keep = array("I", [position[id(r)] for r in roots])
    plan = EncodedPlan(types, labels, type_of.tobytes(), cpus.tobytes(), input_counts.tobytes(), inputs.tobytes(),
                       config_offsets.tobytes(), b"".join(configs), label_of.tobytes(), keep.tobytes(), order,
                       checkpoints, outputs)
    plan.positions = position
    return plan


def encode_calls(calls, functions, leaf_ref):
    """The EncodedPlan ``encode(py_calls + functions)`` writes for calls of one shape, built
    without Task objects (the native API's batches: 10,000 Task objects and the walk over them
    cost ~1 us per call): ``calls`` are (function, config bytes, label, cpus), each call a
    ``loom/py/call`` whose only input is its function: a Task of ``functions`` (new, without
    inputs: placed before its first call, as encode's walk places it) or a future
    (``leaf_ref(future, None)`` gives its id). The roots are the calls, then ``functions``.
    ``tasks`` and ``positions`` stay None: with no Task object there is nothing to map."""
    types, type_ids = [], {}
    labels, label_ids = [""], {"": 0}
    type_of, cpus, input_counts, label_of = array("I"), array("I"), array("I"), array("I")
    inputs = array("Q")
    configs = []
    calls_at = array("I")
    refs = {}      # id(function) -> the reference a call's input holds
    placed = {}    # id(function Task) -> its position

    def type_id(name):
        tid = type_ids.get(name)
        if tid is None:
            tid = type_ids[name] = len(types)
            types.append(name)
        return tid

    def label_id(label):
        lid = label_ids.get(label)
        if lid is None:
            lid = label_ids[label] = len(labels)
            labels.append(str(label))
        return lid

    call_type = None
    add_type, add_cpus, add_count, add_input = type_of.append, cpus.append, input_counts.append, inputs.append
    add_config, add_label, add_call = configs.append, label_of.append, calls_at.append
    for function, config, label, call_cpus in calls:
        ref = refs.get(id(function))
        if ref is None:
            if type(function) is Task:
                if function.inputs or function.outputs is not None or function.checkpoint_path is not None:
                    raise PlanError("{!r} is not a plain function value".format(function))
                placed[id(function)] = len(configs)
                add_type(type_id(function.task_type))
                request = function.resource_request
                add_cpus(0 if request is None else request.cpus)
                add_count(0)
                add_config(function.config)
                add_label(label_id(function.label) if function.label else 0)
                ref = _LOCAL | placed[id(function)]
            else:
                ref = leaf_ref(function, None)
            refs[id(function)] = ref
        if call_type is None:
            call_type = type_id(PY_CALL)
        add_call(len(configs))
        add_type(call_type)
        add_cpus(call_cpus)
        add_count(1)
        add_input(ref)
        add_config(config)
        add_label(label_id(label) if label else 0)
    config_offsets = array("Q", [0])
    config_offsets.extend(itertools.accumulate(map(len, configs)))
    calls_at.extend(placed[id(f)] for f in functions)
    return EncodedPlan(types, labels, type_of.tobytes(), cpus.tobytes(), input_counts.tobytes(), inputs.tobytes(),
                       config_offsets.tobytes(), b"".join(configs), label_of.tobytes(), calls_at.tobytes(), None, [])


def _checkpoint_path(task):
    try:
        path = os.fsdecode(task.checkpoint_path)
    except TypeError:
        raise PlanError("{!r} has checkpoint_path {!r}; use a path".format(task, task.checkpoint_path)) from None
    if not os.path.isabs(path):
        raise PlanError("{!r} has checkpoint_path {!r}, which is not absolute".format(task, path))
    return path


class EncodedPlan:
    """A plan as it goes on the wire: ``types`` and ``labels`` (the distinct names), then one
    column per field, as bytes: per task its type (u32 index into types), cpus (u32), number
    of inputs (u32), its label (u32 index into labels, 0: none); the inputs (u64: LOCAL|position
    of a task of this plan, else a submitted task's id), config offsets (u64, one more than
    tasks) and the configs back to back; ``roots``, the positions of the tasks asked for (u32).
    ``tasks``: the Task objects in position order; ``checkpoints``: (position, path) pairs;
    ``outputs``: (position, labels, content types) of the tasks not of one unnamed output;
    ``positions``: id(Task) -> position, while the caller holds the Task objects.
    An input naming output k of a task is its reference | k << 40."""

    __slots__ = ("types", "labels", "type_of", "cpus", "input_counts", "inputs", "config_offsets", "configs",
                 "label_of", "roots", "tasks", "checkpoints", "outputs", "positions")

    def __init__(self, types, labels, type_of, cpus, input_counts, inputs, config_offsets, configs, label_of,
                 roots, tasks, checkpoints, outputs=()):
        self.types, self.labels = types, labels
        self.type_of, self.cpus, self.input_counts, self.inputs = type_of, cpus, input_counts, inputs
        self.config_offsets, self.configs, self.label_of, self.roots = config_offsets, configs, label_of, roots
        self.tasks, self.checkpoints, self.outputs = tasks, checkpoints, list(outputs)
        self.positions = None

    def frames(self):
        """The columns in the order of the submit message (docs/protocol.md)."""
        return [self.type_of, self.cpus, self.input_counts, self.inputs, self.config_offsets, self.configs,
                self.label_of, self.roots]

    @property
    def count(self):
        return len(self.type_of) // 4

    def root_positions(self):
        return memoryview(self.roots).cast("I")


class SubmittedPlan:
    """An EncodedPlan the server accepted: its tasks have the ids ``base .. base + count - 1``.
    Reads a task back from the columns (no copy: about 20 bytes per task stay)."""

    __slots__ = ("base", "count", "types", "labels", "_type_of", "_label_of", "_counts", "_inputs", "_starts")

    def __init__(self, base, plan):
        self.base = base
        self.types = list(plan.types)
        self.labels = list(plan.labels)
        self._type_of = memoryview(plan.type_of).cast("I")
        self._label_of = memoryview(plan.label_of).cast("I")
        self._counts = memoryview(plan.input_counts).cast("I")
        self._inputs = memoryview(plan.inputs).cast("Q")
        self.count = len(self._type_of)
        self._starts = None

    def __contains__(self, task_id):
        return self.base <= task_id < self.base + self.count

    def task(self, task_id):
        """(label, type, input ids) of a task of this plan."""
        if self._starts is None:   # where each task's inputs begin, made on first use
            starts = array("Q", [0])
            starts.extend(itertools.accumulate(self._counts))
            self._starts = starts
        i = task_id - self.base
        base = self.base
        # Task ids: an input naming another output of a task is an edge from that task.
        ids = [base + (x & TASK_MASK) if x & _LOCAL else x & TASK_MASK
               for x in self._inputs[self._starts[i]:self._starts[i + 1]]]
        return self.labels[self._label_of[i]], self.types[self._type_of[i]], ids

    def kinds(self):
        """(label index, type index) of every task, in id order: ``labels[l]``, ``types[t]``."""
        return zip(self._label_of, self._type_of)

    def steps(self, task_id):
        """Like task(), without the function input of a Python call (the same for every call of
        a function, not a step of the graph)."""
        label, task_type, inputs = self.task(task_id)
        if task_type == PY_CALL and inputs:
            inputs = inputs[1:]
        return label, task_type, inputs


class PlanIndex:
    """Submitted plans of one server, by their id ranges (the oldest forgotten beyond ``keep`` tasks)."""

    def __init__(self, keep):
        self.keep = keep
        self.bases = []
        self.plans = []
        self.tasks = 0

    def add(self, plan):
        i = bisect.bisect_right(self.bases, plan.base)
        self.bases.insert(i, plan.base)
        self.plans.insert(i, plan)
        self.tasks += plan.count
        while self.tasks > self.keep and len(self.plans) > 1:
            old = self.plans.pop(0)
            self.bases.pop(0)
            self.tasks -= old.count

    def find(self, task_id):
        i = bisect.bisect_right(self.bases, task_id) - 1
        if i >= 0 and task_id in self.plans[i]:
            return self.plans[i]
        return None
