"""The native API's batches of calls go as columns written without Task objects
(core.plan.encode_calls): the plan must be the one encode() writes for the same calls as Task
objects, byte for byte, since the server reads both the same way."""

import pytest

from treadle.core import plan as _plan
from treadle.core.task import PY_CALL, ResourceRequest, Task, py_value


class Sent:
    """A function already on the server: a future, whose id leaf_ref gives."""

    def __init__(self, task_id):
        self.task_id = task_id


def leaf_ref(child, task):
    return child.task_id


def as_tasks(calls, functions):
    """What the general path submits for the same calls: Task objects, then the functions."""
    requests = {}
    roots = []
    for function, config, label, cpus in calls:
        request = requests.setdefault(cpus, ResourceRequest(cpus) if cpus else None)
        roots.append(Task(PY_CALL, [function], config, label=label, resource_request=request))
    return roots + list(functions)


def columns(plan):
    return plan.types, plan.labels, plan.frames(), plan.checkpoints, plan.outputs, plan.count


def double(x):
    return 2 * x


def square(x):
    return x * x


@pytest.mark.parametrize("shape", ["one new function", "one sent function", "sent and new, labels and cpus mixed"])
def test_calls_encode_as_their_tasks_do(shape):
    new_square, new_double, sent = py_value(square), py_value(double), Sent(7)
    if shape == "one new function":
        calls = [(new_square, b"config %d" % i, "square", 1) for i in range(5)]
        functions = [new_square]
    elif shape == "one sent function":
        calls = [(sent, b"config %d" % i, "square", 1) for i in range(5)]
        functions = []
    else:
        calls = [(sent, b"a", "square", 1), (new_double, b"bb", "double", 0), (sent, b"", None, 2),
                 (new_square, b"cccc", "square", 1), (new_double, b"d", "twice", 3), (sent, b"e", "square", 1)]
        functions = [new_double, new_square]
    expected = _plan.encode(as_tasks(calls, functions), leaf_ref)
    got = _plan.encode_calls(calls, functions, leaf_ref)
    assert columns(got) == columns(expected)
    assert list(got.root_positions()) == list(expected.root_positions())
