"""Pickling of what travels: functions, arguments, results and exceptions of Python tasks."""

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
        return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    # pickle refers to functions and classes by module and name, but an executor's __main__
    # is not the client's, and modules registered with cloudpickle.register_pickle_by_value
    # may not exist on the workers: those must travel by value. (A false hit, e.g. a string
    # holding "__main__", only costs the slower pickler.)
    for name in by_value_modules():
        if name in data:
            return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return data


def by_value_modules():
    names = [b"__main__"]
    try:
        names.extend(m.encode() for m in cloudpickle.list_registry_pickle_by_value())
    except AttributeError:  # cloudpickle < 2.0
        pass
    return names
