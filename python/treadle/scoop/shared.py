"""``scoop.shared``: constants set once for the whole pool and read on every worker.

A constant travels with the futures submitted after it was set (one pickled dict per change,
which the workers fetch once per executor like any input), so every future, and the futures it
submits, sees the constants that existed when it was submitted."""

import threading
import time

_root = {}                 # constants this process set or received outside a task
_task = threading.local()  # .constants: those the running task received (tasks run on threads)


class ConstantRedefinedError(ValueError):
    """A constant of that name exists already in the pool."""


def constants():
    """The constants visible here: those sent with the running task, or this process's own."""
    received = getattr(_task, "constants", None)
    return _root if received is None else received


def receive(values):
    """Makes ``values`` the running task's constants; returns what it replaces."""
    previous = getattr(_task, "constants", None)
    _task.constants = values
    return previous


def setConst(**kwargs):  # noqa: N802 - SCOOP's name
    """Defines constants for every worker: ``shared.setConst(myValue=5)``. A name is defined
    once per pool: a second definition raises ConstantRedefinedError."""
    global _root
    current = constants()
    for name in kwargs:
        if name in current:
            raise ConstantRedefinedError(
                "the constant {!r} is already defined in this pool: a constant can only be defined once".format(name))
    # A new dict, never a changed one: the pool sends a dict again when it is another object.
    updated = dict(current)
    updated.update(kwargs)
    if current is _root:
        _root = updated
    else:
        _task.constants = updated


def getConst(name, timeout=0.1):  # noqa: N802 - SCOOP's name
    """The constant ``name``, or None if it is not defined within ``timeout`` seconds (a
    constant reaches a worker with the futures submitted after it was set)."""
    deadline = time.monotonic() + (timeout or 0)
    while True:
        values = constants()
        if name in values:
            return values[name]
        if time.monotonic() >= deadline:
            return None
        time.sleep(min(0.01, max(0.0, deadline - time.monotonic())))

