"""The fields of an exception that pickling it drops, carried beside it.

An exception pickles as its type, its args and its ``__dict__`` (``BaseException.__reduce__``),
so what lives elsewhere is lost on the way from a task to its caller: values kept in the
``__slots__`` of the user's class (``e.x``), and the fields built-in types keep in C members
that their ``__reduce__`` leaves out (``AttributeError.name`` and ``.obj``, ``NameError.name``).
Each field travels pickled on its own, so one that cannot (an ``AttributeError``'s module
``obj``) leaves the others, and the exception, as they are.
"""

import pickle
import types

from .pickling import dumps

_MAX_FIELD = 1 << 16   # bytes of one pickled field; a bigger one stays behind


def field_names(cls):
    """The names of the fields ``cls`` keeps outside ``__dict__``: its classes' slots (mangled
    as Python stores them) and the public members of built-in exception types."""
    names = []
    for klass in cls.__mro__:
        if klass.__module__ == "builtins":
            names.extend(name for name, field in vars(klass).items()
                         if isinstance(field, types.MemberDescriptorType) and not name.startswith("__"))
            continue
        slots = vars(klass).get("__slots__", ())
        for name in (slots,) if isinstance(slots, str) else slots:
            if name in ("__dict__", "__weakref__"):
                continue
            if name.startswith("__") and not name.endswith("__"):
                name = "_{}{}".format(klass.__name__.lstrip("_"), name)
            names.append(name)
    return list(dict.fromkeys(names))


def pack_fields(error):
    """{name: pickled value} of ``error``'s fields that are set and travel; None if none."""
    packed = {}
    for name in field_names(type(error)):
        try:
            value = getattr(error, name)
        except AttributeError:  # an empty slot
            continue
        try:
            data = dumps(value)
        except Exception:  # it cannot travel (a module, a lock): the others still do
            continue
        if len(data) <= _MAX_FIELD:
            packed[name] = data
    return packed or None


def restore_fields(error, packed):
    """Sets the fields pack_fields carried on the rebuilt ``error``, each one it can."""
    for name, data in (packed or {}).items():
        try:
            setattr(error, name, pickle.loads(data))
        except Exception:
            pass


def copy_fields(source, target):
    """Copies ``source``'s fields that live outside ``__dict__`` to ``target`` (of a subclass
    of its type, made without its ``__init__``, which would have set the built-in ones)."""
    for name in field_names(type(source)):
        try:
            setattr(target, name, getattr(source, name))
        except (AttributeError, TypeError):
            pass
