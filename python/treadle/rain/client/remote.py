"""Rain's @remote: a Python function run as a task, with data objects as arguments and one or
several outputs (``outputs=N`` or labels or Output objects). The function gets a context first,
then its arguments with each data object replaced by a DataInstance (or its loaded value with
``auto_load=True``); it returns one value per output (a tuple, a list or a dict by label):
bytes, str, a DataInstance, or any value its output's content type can encode."""

from ...core.task import py_call, py_value
from ...runtime.task_runtime import split_outputs
from ..common import DataInstance, RainException, encode_value
from .data_object import DataObject
from .output import outputs_of
from .task import Task, input_ref


class _Slot:
    """Where input ``i`` goes in the arguments."""

    __slots__ = ("i",)

    def __init__(self, i):
        self.i = i


class RemoteRunner:
    """What the executor calls: rebuilds the arguments and encodes the results."""

    def __init__(self, fn, content_types, labels, auto_load):
        self.fn = fn
        self.content_types = content_types
        self.labels = labels
        self.auto_load = auto_load

    def __call__(self, ctx, args, kwargs, input_types, *inputs):
        instances = [DataInstance(w.read(), t) for w, t in zip(inputs, input_types)]
        if self.auto_load:
            instances = [i.load() for i in instances]
        fill = lambda v: instances[v.i] if isinstance(v, _Slot) else v  # noqa: E731
        result = self.fn(ctx, *[fill(a) for a in args], **{k: fill(v) for k, v in kwargs.items()})
        if len(self.labels) == 1:
            return self.encode(result, 0)
        return [self.encode(v, k) for k, v in enumerate(split_outputs(result, self.labels))]

    def encode(self, value, k):
        content_type = self.content_types[k]
        if isinstance(value, DataInstance):
            return value.get_bytes()
        if isinstance(value, (bytes, bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, str) and content_type in ("", "text"):
            return value.encode()
        if not content_type:
            raise RainException("output {!r} got a {}: return bytes or str, or give the output a content type".format(
                self.labels[k], type(value).__name__))
        return encode_value(value, content_type)


class RemoteFunction:
    def __init__(self, fn, outputs, auto_load, cpus):
        self.fn = fn
        self.outputs = outputs_of(outputs)
        self.auto_load = auto_load
        self.cpus = cpus
        self._value = None   # the pickled runner (a py_value task), made on the first call

    def __call__(self, *args, **kwargs):
        inputs, types = [], []

        def slot(v):
            if isinstance(v, Task):
                v = v.output
            if isinstance(v, DataObject):
                inputs.append(input_ref(v))
                types.append(v.content_type)
                return _Slot(len(inputs) - 1)
            return v

        args = [slot(a) for a in args]
        kwargs = {k: slot(v) for k, v in kwargs.items()}
        labels = [o.label for o in self.outputs]
        if self._value is None:   # pickled once, shared by every call (as HyperLoom's py_task)
            self._value = py_value(RemoteRunner(self.fn, [o.content_type for o in self.outputs], labels,
                                                self.auto_load))
        core = py_call(self._value, inputs, outputs=labels if len(labels) != 1 else None,
                       direct_args=(args, kwargs, types), context=True, cpus=self.cpus,
                       label=getattr(self.fn, "__name__", "remote"))
        return Task(core, self.outputs)


def remote(outputs=None, auto_load=False, cpus=1):
    """``@remote()`` or ``@remote(outputs=2)``: calling the function makes a task."""
    if callable(outputs) and not isinstance(outputs, (int, list, tuple)):  # @remote without ()
        return RemoteFunction(outputs, None, auto_load, cpus)

    def decorate(fn):
        return RemoteFunction(fn, outputs, auto_load, cpus)
    return decorate
