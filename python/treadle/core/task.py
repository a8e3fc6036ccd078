"""A task of a plan: what to run (type, config), on what (inputs), with what label and resources."""

import struct
import sys

from .pickling import dumps, sequence_length

# The protocol's bounds (docs/protocol.md): a plan breaking them is refused whole by the server.
MAX_CPUS = 4096
MAX_LABEL_BYTES = 4096


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


def check_options(label, cpus):
    """Raises TypeError or ValueError, naming the option, for a label or cpus count that the
    server would refuse (checked at the call, so the error is the caller's line's)."""
    if not isinstance(label, str):
        raise TypeError("label must be a str, not {}".format(type(label).__name__))
    size = len(label.encode("utf-8", "surrogatepass"))
    if size > MAX_LABEL_BYTES:
        raise ValueError("label has {} bytes (UTF-8); a task's label has at most {}: {!r}".format(
            size, MAX_LABEL_BYTES, label[:40] + "..."))
    ResourceRequest(cpus)
    if cpus > MAX_CPUS:   # (HyperLoom's tasks.cpus(n) takes any n: its submit raises, as HyperLoom's does)
        raise ValueError("cpus must be an integer from 0 to {}, got {!r}".format(MAX_CPUS, cpus))


# Output k of task t is the data object t | k << OUTPUT_SHIFT (docs/protocol.md): output 0 is
# named by the task's own id.
OUTPUT_SHIFT = 40
TASK_MASK = (1 << OUTPUT_SHIFT) - 1
MAX_OUTPUTS = 1 << 16


def object_id(task_id, output):
    return task_id | output << OUTPUT_SHIFT


class OutputSpec:
    """One declared output of a task: its label and content type (Rain's), "" for none."""

    __slots__ = ("label", "content_type")

    def __init__(self, label="", content_type=""):
        self.label = "" if label is None else str(label)
        self.content_type = "" if content_type is None else str(content_type)

    def __eq__(self, other):
        return isinstance(other, OutputSpec) and (other.label, other.content_type) == (self.label, self.content_type)

    def __repr__(self):
        return "OutputSpec({!r}, {!r})".format(self.label, self.content_type)


class Task:
    """A node of the plan. Inputs are other tasks, outputs of tasks (``task.output(k)``) or
    futures of submitted tasks.

    `config` is bytes interpreted by the task type; a str is encoded as UTF-8.
    A task without a resource request is light: it may share cpus with other tasks.
    `checkpoint_path` (an absolute path, as HyperLoom): if the file exists when the plan is
    submitted, the result is loaded from it and the task's inputs need not run; otherwise the
    result (a D-object) is written there when computed.
    `outputs`: None for the one unnamed output of HyperLoom's tasks, else a list of OutputSpec,
    one per output (zero or more; set with ``declare_outputs``). A task with other than one
    output makes an array of one item per output, each kept as its own data object.
    """

    __slots__ = ("task_type", "inputs", "config", "label", "resource_request", "checkpoint_path", "outputs",
                 "internal", "__weakref__")

    def __init__(self, task_type=None, inputs=(), config=b"", label=None, resource_request=None):
        self.task_type = task_type
        self.inputs = inputs
        self.config = config
        self.label = label
        self.resource_request = resource_request
        self.checkpoint_path = None
        self.outputs = None
        self.internal = False   # sent by a client for its own calls (shared_value), not the user's

    def declare_outputs(self, outputs):
        """Declares the task's outputs: a count, or a list of labels or OutputSpecs. Returns self."""
        if isinstance(outputs, bool):
            raise TypeError("outputs must be a count or a list of labels, not a bool")
        if isinstance(outputs, int):
            if not 0 <= outputs <= MAX_OUTPUTS:
                raise ValueError("a task has 0 to {} outputs, not {}".format(MAX_OUTPUTS, outputs))
            specs = [OutputSpec() for _ in range(outputs)]
        else:
            specs = [o if isinstance(o, OutputSpec) else OutputSpec(o) for o in outputs]
            if len(specs) > MAX_OUTPUTS:
                raise ValueError("a task has at most {} outputs, not {}".format(MAX_OUTPUTS, len(specs)))
        self.outputs = specs
        return self

    def output_count(self):
        return 1 if self.outputs is None else len(self.outputs)

    def output(self, index):
        """Output ``index`` (a position, or a declared label) of this task, as an input of others."""
        return TaskOutput(self, output_index(self.outputs, index, repr(self)))

    def __repr__(self):
        name = self.label or self.task_type
        return "<Task {}>".format(name)


class TaskOutput:
    """Output ``index`` of a task not yet submitted: an input of other tasks."""

    __slots__ = ("task", "index")

    def __init__(self, task, index):
        self.task = task
        self.index = index

    def __repr__(self):
        return "<output {} of {!r}>".format(self.index, self.task)


def output_index(specs, index, owner):
    """The position of output ``index`` (a position or a label) among ``specs`` (None: one unnamed
    output); a clear error naming ``owner`` when it has no such output."""
    count = 1 if specs is None else len(specs)
    if isinstance(index, str):
        labels = [s.label for s in specs or ()]
        if index not in labels:
            raise KeyError("{} has no output labelled {!r} (its outputs: {})".format(owner, index, labels or "unnamed"))
        return labels.index(index)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
        raise IndexError("{} has {} output{}: there is no output {!r}".format(owner, count, "" if count == 1 else "s",
                                                                          index))
    return index


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


def shared_value(obj):
    """py_value(obj) that a client sends once and keeps for its own calls (a pickled function, a
    runner): not a task of the user's, so the kernel's cancels neither cancel nor count it."""
    task = py_value(obj)
    task.internal = True
    return task


def py_call(fn, inputs=(), outputs=None, direct_args=(), context=False, cpus=1, label=None):
    """A call of the callable ``fn`` (a task or future giving it, e.g. ``py_value(f)``) on the
    data objects ``inputs``, as HyperLoom's py_call. With ``outputs`` (a count, or labels or
    OutputSpecs) the task has that many outputs: the function returns a tuple or list of one
    value per output, or a dict by label, and each value (bytes, str, a list...) becomes an
    output of its own."""
    task = Task(PY_CALL, (fn,) + tuple(inputs), b"", label, ResourceRequest(cpus))
    labels = None
    if outputs is not None:
        task.declare_outputs(outputs)
        labels = [o.label or str(k) for k, o in enumerate(task.outputs)]
    task.config = dumps((bool(context), tuple(direct_args), labels))
    return task
