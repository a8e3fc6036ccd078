"""A task of a plan: what to run (type, config), on what (inputs), with what label and resources."""

import struct
import sys

from .pickling import dumps, sequence_length


class ResourceRequest:
    """What a task needs from a worker; today only a number of cpus."""

    __slots__ = ("cpus",)

    def __init__(self, cpus=0):
        if isinstance(cpus, bool) or not isinstance(cpus, int):
            raise TypeError("cpus must be an int, got {}".format(type(cpus).__name__))
        if cpus < 0:
            raise ValueError("cpus must be a non-negative integer, got {!r}".format(cpus))
        self.cpus = cpus

    def __eq__(self, other):
        return isinstance(other, ResourceRequest) and other.cpus == self.cpus

    def __repr__(self):
        return "cpus({})".format(self.cpus)


class Task:
    """A node of the plan. Inputs are other tasks or futures of submitted tasks.

    `config` is bytes interpreted by the task type; a str is encoded as UTF-8.
    A task without a resource request is light: it may share cpus with other tasks.
    `checkpoint_path` (an absolute path, as HyperLoom): if the file exists when the plan is
    submitted, the result is loaded from it and the task's inputs need not run; otherwise the
    result (a D-object) is written there when computed.
    """

    __slots__ = ("task_type", "inputs", "config", "label", "resource_request", "checkpoint_path", "__weakref__")

    def __init__(self, task_type=None, inputs=(), config=b"", label=None, resource_request=None):
        self.task_type = task_type
        self.inputs = inputs
        self.config = config
        self.label = label
        self.resource_request = resource_request
        self.checkpoint_path = None

    def __repr__(self):
        name = self.label or self.task_type
        return "<Task {}>".format(name)


# -- the Python tasks every API sends --------------------------------------------------------

PY_VALUE = "loom/py/value"   # a pickled object (a function, a value) as a data object
PY_CALL = "loom/py/call"     # a call of the callable its first input holds
_U64 = struct.Struct("<Q")
_NOT_A_SEQUENCE = (1 << 64) - 1


def py_value(obj):
    """A PyObj constant: ``obj`` itself, pickled (with cloudpickle, so lambdas and functions
    defined in a notebook travel by value); its size and, for a sequence, its length lead the
    config (the scheduler cuts sequences for dslice/dget)."""
    length = sequence_length(obj)
    return Task(PY_VALUE, (), _U64.pack(sys.getsizeof(obj)) + _U64.pack(_NOT_A_SEQUENCE if length is None else length)
                + dumps(obj), resource_request=ResourceRequest(1))
