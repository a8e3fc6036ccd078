"""Turns a graph of Task objects into the column format of a "submit" message.

Tasks are ordered so that every task comes after its inputs (the server relies on it, so a
plan can have no cycle); the walk is iterative, so million-task chains do not hit Python's
recursion limit. A Task object shared by several tasks is submitted once.
"""

import itertools
from array import array

from .future import Future
from .task import ResourceRequest, Task

_LOCAL = 1 << 63
_REDIRECT_INPUT = 1 << 62  # in a redirect plan: the redirected task's own input at a position
_VISITING = -1


class PlanError(ValueError):
    """The graph cannot be submitted (a cycle, a foreign or released future, a wrong input)."""


def _bad_input(task, child):
    return TypeError("an input of {!r} is {!r}: inputs must be tasks or futures".format(task, child))


def _future_ref(client):
    def ref(child, task):
        if isinstance(child, Future):
            if child.client is not client:
                raise PlanError("{!r} belongs to another client".format(child))
            if child._released:
                raise PlanError("{!r} was released and cannot be used as an input".format(child))
            return child.task_id
        raise _bad_input(task, child)
    return ref


def order_tasks(roots, leaf_ref):
    """Returns the tasks reachable from ``roots`` (Task objects), inputs first, and the
    references of the leaves that are not tasks (futures; ``leaf_ref(leaf, task)`` gives them)."""
    order = []
    leaves = {}    # id(leaf) -> its reference
    position = {}  # id(task) -> index in order, or _VISITING while its inputs are walked
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
                elif id(child) not in leaves:
                    leaves[id(child)] = leaf_ref(child, task)
            else:
                stack.pop()
                position[id(task)] = len(order)
                order.append(task)
    return order, position, leaves


def encode(roots, client):
    """Returns (types, labels, frames, tasks, checkpoints): the first three for Connection.submit
    (frames[-1] lists the roots), the Task objects in the order of their ids, and the
    (plan index, path) of each task with a checkpoint_path."""
    return _encode(roots, _future_ref(client))


def encode_redirect(task):
    """The plan a Python task returned, for the worker: inputs of the running task (wrappers)
    become references to its own inputs by position."""
    def ref(child, parent):
        position = getattr(child, "position", None)
        if position is None:
            raise PlanError("a returned task may use only the task's own inputs and new tasks, not {!r}".format(child))
        return _REDIRECT_INPUT | position
    return _encode([task], ref)[:3]  # checkpoints count in submitted plans only


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
    frames = [type_of.tobytes(), cpus.tobytes(), input_counts.tobytes(), inputs.tobytes(),
              config_offsets.tobytes(), b"".join(configs), label_of.tobytes(), keep.tobytes()]
    return types, labels, frames, order, checkpoints


def _checkpoint_path(task):
    import os
    try:
        path = os.fsdecode(task.checkpoint_path)
    except TypeError:
        raise PlanError("{!r} has checkpoint_path {!r}; use a path".format(task, task.checkpoint_path)) from None
    if not os.path.isabs(path):
        raise PlanError("{!r} has checkpoint_path {!r}, which is not absolute".format(task, path))
    return path
