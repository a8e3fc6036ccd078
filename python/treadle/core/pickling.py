"""Pickling of what travels: functions, arguments, results and exceptions of Python tasks."""

import collections
import io
import pickle
from collections.abc import Sequence

import cloudpickle

# Values pickle writes without naming any module but builtins: they never need cloudpickle.
SCALAR_TYPES = frozenset((int, float, complex, bool, str, bytes, type(None)))


def sequence_length(obj):
    """len(obj) if dslice/dget may cut the object (a list, a tuple, any Sequence but text and
    bytes), else None."""
    t = type(obj)
    if t is tuple or t is list:  # the usual results: no abstract-class check (every task's reply)
        return len(obj)
    if t in SCALAR_TYPES:  # numbers, text, bytes, None: never cut
        return None
    if isinstance(obj, (str, bytes, bytearray, memoryview)) or not isinstance(obj, Sequence):
        return None
    try:
        return len(obj)
    except Exception:
        return None


_PLAIN_ITEMS = 16    # a longer container is checked by scanning its pickle instead (memchr, not Python)


def is_plain(obj, depth=3):
    """True if ``obj`` is a number, string, bytes, None, or a short tuple, list or dict of those
    (nested at most ``depth`` deep): the arguments and results of most tiny tasks."""
    t = type(obj)
    if t in SCALAR_TYPES:
        return True
    if not depth:
        return False
    if t is tuple or t is list:
        if len(obj) > _PLAIN_ITEMS:
            return False
        for item in obj:
            if type(item) not in SCALAR_TYPES and not is_plain(item, depth - 1):
                return False
        return True
    if t is dict:
        if len(obj) > _PLAIN_ITEMS:
            return False
        for key, item in obj.items():
            if type(key) is not str or (type(item) not in SCALAR_TYPES and not is_plain(item, depth - 1)):
                return False
        return True
    return False


def _refuse_open_file(obj):
    raise TypeError("cannot pickle {!r} object".format(type(obj).__module__ + "." + type(obj).__name__))


class _CloudPickler(cloudpickle.Pickler):
    """cloudpickle, but an open file is refused as pickle refuses it: cloudpickle would send a
    snapshot of its text as an io.StringIO, which the task would take for the file."""

    dispatch_table = collections.ChainMap({io.TextIOWrapper: _refuse_open_file}, cloudpickle.Pickler.dispatch_table)


def dumps_plain(obj):
    """Pickles a value ``is_plain`` accepted (whose parts the caller checked)."""
    return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def dumps(obj):
    """Pickles with pickle when it can (fast), with cloudpickle when it must (lambdas, __main__)."""
    if type(obj) in SCALAR_TYPES or is_plain(obj):  # per call and per result of tiny tasks: no by-value check
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    try:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return _dump_with_ids(_CloudPickler, obj, None)
    # pickle refers to functions and classes by module and name, but an executor's __main__
    # is not the client's, and modules registered with cloudpickle.register_pickle_by_value
    # may not exist on the workers: those must travel by value. (A false hit, e.g. a string
    # holding "__main__", only costs the slower pickler.)
    for name in by_value_modules():
        if name in data:
            return _dump_with_ids(_CloudPickler, obj, None)
    return data


def dumps_with_ids(obj, persistent_id):
    """Pickles as ``dumps`` does, writing ``persistent_id(x)`` in place of every object ``x``
    for which it is not None (an Unpickler's ``persistent_load`` gives it back). Nothing is
    rebuilt: objects shared or containing themselves keep their identity, as pickle keeps it."""
    try:
        data = _dump_with_ids(pickle.Pickler, obj, persistent_id)
    except Exception:
        return _dump_with_ids(_CloudPickler, obj, persistent_id)
    for name in by_value_modules():  # as in dumps: what must travel by value
        if name in data:
            return _dump_with_ids(_CloudPickler, obj, persistent_id)
    return data


def _dump_with_ids(pickler_type, obj, persistent_id):
    out = io.BytesIO()
    pickler = pickler_type(out, protocol=pickle.HIGHEST_PROTOCOL)
    if persistent_id is not None:
        pickler.persistent_id = persistent_id
    pickler.dump(obj)
    return out.getvalue()


def by_value_modules():
    names = [b"__main__"]
    try:
        names.extend(m.encode() for m in cloudpickle.list_registry_pickle_by_value())
    except AttributeError:  # cloudpickle < 2.0
        pass
    return names
