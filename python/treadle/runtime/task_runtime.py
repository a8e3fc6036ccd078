"""What a Python task sees while it runs: its inputs, its context, and how its result is sent.

Shared by the executor (which runs tasks) and by tests; nothing here talks to the network.
"""

import io
import mmap
import pickle
import struct
import sys

from ..core import plan
from ..core.pickling import dumps, sequence_length
from ..core.task import Task


class PyObj:
    """A Python object as a data object (``ctx.wrap(obj)``); travels pickled."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj


class Ref:
    """In a native task's arguments: "the value of input ``index``" (a future's result)."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index

    def __reduce__(self):
        return (Ref, (self.index,))


# A py_call config the scheduler writes to cut a PyObj sequence (engine/common/symbols.hpp).
PIECE_ITEM = b"\0treadle/item"
PIECE_SLICE = b"\0treadle/slice"


def cut_piece(config, obj):
    """obj[i] or obj[from:to] as a PyObj, for a config starting with PIECE_ITEM/PIECE_SLICE;
    None for any other config."""
    if config.startswith(PIECE_ITEM):
        (i,) = struct.unpack_from("<Q", config, len(PIECE_ITEM))
        return PyObj(obj[i])
    if config.startswith(PIECE_SLICE):
        start, stop = struct.unpack_from("<QQ", config, len(PIECE_SLICE))
        return PyObj(obj[start:stop])
    return None


def load_config(raw_config, inputs):
    """A py_call's config unpickled, each input named in it (a persistent id written by
    ``call_config``, or a ``Ref``) replaced by its value (``value_of``) as it loads: the
    arguments are never rebuilt, so what they share and what contains itself stays so."""
    if not inputs:
        return pickle.loads(raw_config)
    return _InputsUnpickler(raw_config, inputs).load()


class _InputsUnpickler(pickle.Unpickler):
    def __init__(self, raw_config, inputs):
        super().__init__(io.BytesIO(raw_config))
        self._inputs = inputs
        self._values = {}   # an input named twice is one object, as the future was

    def persistent_load(self, index):
        try:
            return self._values[index]
        except KeyError:
            value = self._values[index] = value_of(self._inputs[index])
            return value

    def find_class(self, module, name):
        if name == "Ref" and module == __name__:   # Ref(i) loads as input i's value
            return self.persistent_load
        return super().find_class(module, name)


def value_of(wrapper):
    """A native task's view of an input: the Python object, the bytes, or a list of those."""
    if wrapper.kind == "pyobj":
        return wrapper.unwrap()
    if wrapper.kind in ("plain", "file"):
        return wrapper.read()
    return [value_of(item) for item in wrapper]


class InputWrapper:
    """A task's input: ``read()`` the bytes, ``size()``, ``length()``, ``unwrap()`` a PyObj.

    Arrays and indexes can be indexed (``wrapper[i]``) and iterated, giving wrappers again.
    """

    __slots__ = ("kind", "_data", "_path", "_size", "_obj", "_items", "_base", "_bounds", "position")

    def __init__(self, kind, data=None, path=None, size=None, obj=None, items=None, base=None, bounds=None):
        self.kind = kind
        self._data = data
        self._path = path
        self._size = size
        self._obj = obj
        self._items = items
        self._base = base
        self._bounds = bounds
        self.position = None  # index among the task's inputs, for redirection

    def read(self):
        """The content as bytes; empty for objects that are not plain or file (as HyperLoom)."""
        if self.kind == "plain":
            return self._data
        if self.kind == "file":
            with open(self._path, "rb") as f:
                if self._size == 0:
                    return b""
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                    return m[:]
        return b""

    def size(self):
        if self.kind == "plain":
            return len(self._data)
        if self.kind in ("file", "pyobj"):
            return self._size
        if self.kind == "array":
            return sum(item.size() for item in self._items)
        if self.kind == "index":
            return self._bounds[-1] - self._bounds[0] if self._bounds else 0
        return 0

    def length(self):
        if self.kind == "array":
            return len(self._items)
        if self.kind == "index":
            return max(0, len(self._bounds) - 1)
        return 0

    def unwrap(self):
        """The Python object of a PyObj input."""
        if self.kind != "pyobj":
            raise TypeError("unwrap() needs a PyObj input (tasks.py_value or ctx.wrap), this one is {}"
                            .format(self.kind))
        return self._obj

    def __getitem__(self, i):
        if self.kind == "array":
            return self._items[i]
        if self.kind == "index":
            n = self.length()
            if i < 0:
                i += n
            if not 0 <= i < n:
                raise IndexError("index {} out of range for length {}".format(i, n))
            data = self._base.read()
            return InputWrapper("plain", data=data[self._bounds[i]:self._bounds[i + 1]])
        raise TypeError("a {} input has no pieces".format(self.kind))

    def __iter__(self):
        for i in range(self.length()):
            yield self[i]

    def __len__(self):
        return self.length()

    def __repr__(self):
        return "<input {} size={} length={}>".format(self.kind, self.size(), self.length())


class Context:
    """The first argument of ``py_task(context=True)`` functions. ``governor``: the data
    address of the worker running it (Rain's governor id), when the worker said it;
    ``input_ids``: the ids of its input objects, in order (the callable's first), or ()."""

    __slots__ = ("task_id", "_log", "_record", "governor", "input_ids")

    def __init__(self, task_id, log, record=None, governor=None, input_ids=()):
        self.task_id = task_id
        self._log = log
        self._record = record
        self.governor = governor
        self.input_ids = input_ids

    def record_info(self, text):
        """Records what the task says about itself (JSON text: a Rain task's info), sent to
        the server before its result; the server keeps it with the task (its story's ``info``)."""
        if self._record is not None:
            self._record(self.task_id, text)

    def wrap(self, obj):
        """Return ``ctx.wrap(obj)`` to produce a PyObj instead of a plain object."""
        if isinstance(obj, (InputWrapper, PyObj)):
            return obj
        return PyObj(obj)

    def log_debug(self, message):
        self._log(self.task_id, "debug", message)

    def log_info(self, message):
        self._log(self.task_id, "info", message)

    def log_warn(self, message):
        self._log(self.task_id, "warn", message)

    def log_error(self, message):
        self._log(self.task_id, "error", message)

    def log_critical(self, message):
        self._log(self.task_id, "critical", message)


def split_outputs(result, labels):
    """The items of what a task declared with ``labels`` (one per output) returned, one per
    output: a tuple or list of as many values, a dict by label, or None for no outputs. Raises
    a ValueError saying what was declared and what came back."""
    declared = "{} output{} ({})".format(len(labels), "" if len(labels) == 1 else "s",
                                         ", ".join(repr(l) for l in labels) or "none")
    if isinstance(result, dict):
        missing = [l for l in labels if l not in result]
        extra = [k for k in result if k not in labels]
        if missing or extra or len(set(labels)) != len(labels):
            raise ValueError("the task declared {} but returned a dict with keys {}".format(
                declared, ", ".join(repr(k) for k in result) or "none"))
        return [result[l] for l in labels]
    if result is None and not labels:
        return []
    if isinstance(result, (tuple, list)):
        if len(result) != len(labels):
            raise ValueError("the task declared {} but returned {} values".format(declared, len(result)))
        return list(result)
    raise ValueError("the task declared {} but returned one {} (return a tuple, a list or a dict by label)".format(
        declared, type(result).__name__))


def encode_result(result, blobs=None):
    """Returns (description, blobs) of what a task returned; raises TypeError for what it cannot be."""
    if blobs is None:
        blobs = []
    if type(result) is PyObj:  # the native API's every result: first, and without the checks below
        return _encode_pyobj(result.obj, blobs), blobs
    if isinstance(result, (bytes, bytearray, memoryview)):
        blobs.append(bytes(result))
        return {"k": "plain", "b": len(blobs) - 1}, blobs
    if isinstance(result, str):
        blobs.append(result.encode())
        return {"k": "plain", "b": len(blobs) - 1}, blobs
    if isinstance(result, PyObj):
        return _encode_pyobj(result.obj, blobs), blobs
    if isinstance(result, InputWrapper):
        return _encode_input(result, blobs), blobs
    if isinstance(result, (list, tuple)):
        items = [encode_result(item, blobs)[0] for item in result]
        return {"k": "array", "items": items}, blobs
    if isinstance(result, Task):
        redirect = plan.encode_redirect(result)
        start = len(blobs)
        blobs.extend(redirect.frames())
        return {"k": "redirect", "types": redirect.types, "labels": redirect.labels, "b": start}, blobs
    raise TypeError("a Python task must return bytes, str, a list, a Task or ctx.wrap(obj), not {}"
                    .format(type(result).__name__))


def _encode_pyobj(obj, blobs):
    try:
        data = dumps(obj)
    except Exception as error:
        raise TypeError("the task's result {!r} cannot be pickled: {}".format(type(obj).__name__, error))
    blobs.append(data)
    desc = {"k": "pyobj", "b": len(blobs) - 1, "size": sys.getsizeof(obj)}
    length = sequence_length(obj)
    if length is not None:
        desc["len"] = length
    return desc


def _encode_input(wrapper, blobs):
    if wrapper.kind in ("plain", "file"):
        blobs.append(wrapper.read())
        return {"k": "plain", "b": len(blobs) - 1}
    if wrapper.kind == "pyobj":
        return encode_result(PyObj(wrapper.unwrap()), blobs)[0]
    if wrapper.kind == "array":
        return {"k": "array", "items": [_encode_input(i, blobs) for i in wrapper]}
    if wrapper.kind == "index":
        return {"k": "array", "items": [_encode_input(i, blobs) for i in wrapper]}
    raise TypeError("cannot return a {} input".format(wrapper.kind))
