"""The built-in tasks of HyperLoom, as functions that build `Task` objects.

Nothing here talks to the server: each function checks its arguments and encodes the
configuration the worker's built-in of that type expects (engine/worker/builtin/).

    from treadle.loom.client import tasks
    hello = tasks.merge((tasks.const("Hello "), tasks.const("world!")))
    grep = tasks.run("/bin/grep Loom", stdin=hello)
"""

import json
import numbers
import os
import pickle
import posixpath
import struct

from ...core.pickling import dumps
from ...core.task import PY_CALL, PY_VALUE, ResourceRequest, Task, py_value  # noqa: F401 (HyperLoom's names)
from .future import Future

# Symbols of the built-in task types (engine/common/symbols.hpp).
CONST = "loom/data/const"
MERGE = "loom/data/merge"
OPEN = "loom/data/open"
SAVE = "loom/data/save"
SPLIT = "loom/data/split"
GET = "loom/base/get"
SLICE = "loom/base/slice"
SIZE = "loom/base/size"
LENGTH = "loom/base/length"
SLEEP = "loom/base/sleep"
ARRAY_MAKE = "loom/array/make"
RUN = "loom/run/run"

# Names that "run" gives the program's standard streams in its config.
_STDIN = "+in"
_STDOUT = "+out"


def cpus(n):
    """A resource request for `n` cpu cores."""
    return ResourceRequest(n)


cpu1 = cpus(1)


# ---------------------------------------------------------------------------------------------
# Argument checks shared by the builders.

def _to_bytes(value, what):
    """str (as UTF-8) or a bytes-like object, as bytes."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError("{} must be str or bytes, got {}".format(what, type(value).__name__))


def _to_path(value, what):
    """A file name (str, bytes or os.PathLike) as UTF-8 bytes; never empty."""
    try:
        path = os.fspath(value)
    except TypeError:
        raise TypeError("{} must be a path (str, bytes or os.PathLike), got {}".format(
            what, type(value).__name__)) from None
    path = _to_bytes(path, what)
    if not path:
        raise ValueError("{} must not be empty".format(what))
    return path


def _sequence(value, what):
    """A list or tuple as a tuple; a single str or task is a common slip, so say so."""
    if isinstance(value, (list, tuple)):
        return tuple(value)
    raise TypeError("{} must be a list or tuple, got {}".format(what, type(value).__name__))


def _index(value, what):
    """A non-negative integer that fits the u64 of the config."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError("{} must be an int, got {}".format(what, type(value).__name__))
    value = int(value)
    if value < 0:
        raise ValueError("{} must not be negative, got {}".format(what, value))
    if value >= 1 << 64:
        raise ValueError("{} is too large, got {}".format(what, value))
    return value


def _u64(value):
    return struct.pack("<Q", value)


# ---------------------------------------------------------------------------------------------
# loom/data

def const(data):
    """A plain object holding `data` (str is encoded as UTF-8)."""
    return Task(CONST, (), _to_bytes(data, "const() data"))


def merge(inputs, delimiter=""):
    """A plain object: the contents of the D-objects `inputs` joined by `delimiter`."""
    return Task(MERGE, _sequence(inputs, "merge() inputs"), _to_bytes(delimiter, "merge() delimiter"))


def open(filename):  # noqa: A001 - the HyperLoom name
    """A file object of `filename`, a path on the workers' (shared) file system."""
    return Task(OPEN, (), _to_path(filename, "open() filename"))


def save(input, filename):  # noqa: A002 - the HyperLoom name
    """Writes the content of the D-object `input` to `filename` (an absolute path: the task
    fails otherwise); gives a file object of it."""
    return Task(SAVE, (input,), _to_path(filename, "save() filename"))


def split(input, char=None):  # noqa: A002
    """An index over `input` cut after each `char` (default: newline), which pieces keep."""
    if char is None:
        config = b""
    else:
        config = _to_bytes(char, "split() char")
        if len(config) != 1:
            raise ValueError("split() char must be a single byte, got {!r}".format(char))
    return Task(SPLIT, (input,), config)


# ---------------------------------------------------------------------------------------------
# loom/base

def get(input, index):  # noqa: A002
    """Element `index` of an array, or piece `index` of an index."""
    return Task(GET, (input,), _u64(_index(index, "get() index")))


def slice(input, start, end):  # noqa: A001, A002 - the HyperLoom name
    """Elements [start, end) of an array or an index (clamped to its length)."""
    start = _index(start, "slice() start")
    end = _index(end, "slice() end")
    return Task(SLICE, (input,), _u64(start) + _u64(end))


def size(input):  # noqa: A002
    """The size of `input` in bytes, as 8 bytes little-endian."""
    return Task(SIZE, (input,), b"")


def length(input):  # noqa: A002
    """The number of inner pieces of `input`, as 8 bytes little-endian."""
    return Task(LENGTH, (input,), b"")


# The worker refuses longer sleeps (its clock counts nanoseconds).
_MAX_SLEEP_SECONDS = 1e9


def sleep(seconds, input=None):  # noqa: A002
    """Waits `seconds`, then gives `input` (or an empty plain object)."""
    if isinstance(seconds, bool) or not isinstance(seconds, numbers.Real):
        raise TypeError("sleep() seconds must be a number, got {}".format(type(seconds).__name__))
    seconds = float(seconds)
    if not 0 <= seconds <= _MAX_SLEEP_SECONDS:  # also catches NaN
        raise ValueError("sleep() seconds must be between 0 and {:g}, got {!r}".format(_MAX_SLEEP_SECONDS, seconds))
    inputs = () if input is None else (input,)
    return Task(SLEEP, inputs, repr(seconds).encode("ascii"))


# ---------------------------------------------------------------------------------------------
# loom/array

def array_make(inputs):
    """An array of the objects of `inputs`, in order."""
    return Task(ARRAY_MAKE, _sequence(inputs, "array_make() inputs"), b"")


# ---------------------------------------------------------------------------------------------
# loom/run

def _run_args(args):
    if isinstance(args, str):
        args = args.split()
    elif isinstance(args, (list, tuple)):
        args = [str(arg) for arg in args]
    else:
        raise TypeError("run() args must be a str or a list/tuple of arguments, got {}".format(
            type(args).__name__))
    if not args:
        raise ValueError("run() args must name a program to run, got none")
    return args


def _run_name(name, what):
    if not isinstance(name, str):
        raise TypeError("{} must be a str, got {}".format(what, type(name).__name__))
    if not name:
        raise ValueError("{} must not be empty".format(what))
    if name == "$":
        raise ValueError("{} '$' needs a variable name after the '$'".format(what))
    # Files live in the program's fresh directory; the worker refuses paths that leave it.
    if not name.startswith("$") and (posixpath.isabs(name) or ".." in name.split("/") or name.endswith("/")):
        raise ValueError("{} {!r} must be a relative path inside the program's directory".format(what, name))
    return name


def run(args, inputs=(), outputs=(None,), stdin=None, request=cpu1):
    """Runs an external program in a fresh directory on a worker.

    args     -- a str split on whitespace, or a list/tuple of arguments
    inputs   -- (task, name) pairs: the task's result becomes file `name` in the program's
                directory, or, for a name starting with '$', replaces that variable in args
    outputs  -- file names the program creates; None stands for its standard output.
                One output gives a plain object, several give an array of them
    stdin    -- a task whose result is the program's standard input
    request  -- the resources the program needs (default: one cpu core)
    """
    args = _run_args(args)
    task_inputs = []
    input_names = []
    if stdin is not None:
        task_inputs.append(stdin)
        input_names.append(_STDIN)
    for pair in _sequence(inputs, "run() inputs"):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise TypeError("run() inputs must be (task, name) pairs, got {!r}".format(pair))
        task, name = pair
        name = _run_name(name, "run() input name")
        if name in (_STDIN, _STDOUT):
            raise ValueError("run() input name {!r} is reserved; use stdin= for the standard input".format(name))
        if name in input_names:
            raise ValueError("run() input name {!r} is used twice".format(name))
        task_inputs.append(task)
        input_names.append(name)
    output_names = []
    for output in _sequence(outputs, "run() outputs"):
        if output is None:
            output_names.append(_STDOUT)
            continue
        name = _run_name(output, "run() output name")
        if name in (_STDIN, _STDOUT) or name.startswith("$"):
            raise ValueError("run() output name {!r} is not a file name; use None for the standard output"
                             .format(name))
        output_names.append(name)
    if not output_names:
        raise ValueError("run() outputs must name at least one output (None is the standard output)")
    if request is not None and not isinstance(request, ResourceRequest):
        raise TypeError("run() request must be a ResourceRequest (e.g. tasks.cpus(2)) or None, got {}".format(
            type(request).__name__))
    config = json.dumps({"args": args, "inputs": input_names, "outputs": output_names})
    return Task(RUN, tuple(task_inputs), config.encode("utf-8"), resource_request=request)


# ---------------------------------------------------------------------------------------------
# Python tasks: py_value, py_call, py_task.

def py_call(obj, inputs=(), request=cpu1, direct_args=(), context=False, label=None):
    """Calls a Python callable on a worker with the data objects `inputs`.

    `obj` is a task giving the callable (``py_value(fn)``) or the callable itself. The call
    gets, in order: a Context if `context`, the `direct_args` (any picklable values), then
    one wrapper per input (``read()``, ``size()``, ``length()``, ``unwrap()``).
    """
    if not isinstance(obj, (Task, Future)):
        if not callable(obj):
            raise TypeError("py_call() needs a callable or a task giving one, got {}".format(type(obj).__name__))
        obj = py_value(obj)
    if request is not None and not isinstance(request, ResourceRequest):
        raise TypeError("py_call() request must be tasks.cpus(n) or None")
    config = pickle.dumps((bool(context), tuple(direct_args)), protocol=pickle.HIGHEST_PROTOCOL) \
        if not direct_args else dumps((bool(context), tuple(direct_args)))
    return Task(PY_CALL, (obj,) + tuple(_sequence(inputs, "py_call() inputs")), config,
                label=label, resource_request=request)


def py_task(label=None, context=False, n_direct_args=0, request=cpu1):
    """Decorator: calling the function builds a py_call task instead of running it.

    The function is pickled once and shipped as one shared data object, so each worker gets
    it once and each executor unpickles it once, however many tasks call it.
    """
    if not isinstance(n_direct_args, int) or n_direct_args < 0:
        raise ValueError("n_direct_args must be a non-negative integer")

    def decorate(fn):
        if not callable(fn):
            raise TypeError("py_task() decorates callables")
        shared = []  # the py_value task of fn, made on first use
        name = getattr(fn, "__name__", None) or type(fn).__name__  # callable objects have no __name__

        def build(*args):
            # Fewer arguments than n_direct_args are all direct (HyperLoom accepts them too):
            # the function's own defaults fill the rest, or its call fails as a task error.
            if not shared:
                shared.append(py_value(fn))
            return py_call(shared[0], args[n_direct_args:], request=request, direct_args=args[:n_direct_args],
                           context=context, label=label if label is not None else name)

        build.__name__ = name
        build.__doc__ = getattr(fn, "__doc__", None)
        build.__wrapped__ = fn
        return build
    return decorate


# ---------------------------------------------------------------------------------------------
# Dynamic slice and get: the scheduler expands them when their input's length is known.

DSLICE = "loom/scheduler/dslice"
DGET = "loom/scheduler/dget"


def dslice(input):  # noqa: A002
    """Pieces of an array or index, as many as suit the workers' cpus.

    ``f = F(..., dslice(x), ...)`` runs F once per piece; ``array_make((f,))`` gathers the
    results of all pieces, in order, as if the pieces had been written out by hand.
    """
    return Task(DSLICE, (input,), b"")


def dget(input):  # noqa: A002
    """Each element of an array or index: ``F(..., dget(x), ...)`` runs F once per element."""
    return Task(DGET, (input,), b"")
