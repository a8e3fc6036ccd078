"""Futures of one API met by another. Each API waits for its own futures only (through its own
client, in its own words: a SCOOP result is a value, a HyperLoom one bytes), so another API's
future is refused by name, with what to pass instead, rather than taken as a plain value (a
gather that returned the future itself) or failing deep inside (an internal object that
cannot be pickled).

An API marks its future classes with ``__treadle_api__ = (the API's name, how to get the
value)`` and gives them ``RefusesPickling``."""

import abc


class AnyApiFuture(abc.ABC):
    """isinstance(x, AnyApiFuture): x is a future of one of treadle's APIs."""

    @classmethod
    def __subclasshook__(cls, other):
        return True if any("__treadle_api__" in vars(k) for k in other.__mro__) else NotImplemented


def describe(future):
    """"a treadle.scoop Future (<its repr>)"."""
    return "a {} {} ({!r})".format(type(future).__treadle_api__[0], type(future).__name__, future)


def refuse_others(futures, own_type, where):
    """Raises TypeError for the first of ``futures`` that is not an ``own_type``: ``where``
    ("treadle.gather") waits for its own API's futures only, and for no plain value."""
    for future in futures:
        if not isinstance(future, own_type):
            if not isinstance(future, AnyApiFuture):  # a value where a future was expected: 1, "a"
                raise TypeError("{} takes futures, not {}".format(where, type(future).__name__))
            raise TypeError("{} was given {}: it waits for its own API's futures only; pass the value "
                            "instead ({})".format(where, describe(future), type(future).__treadle_api__[1]))


class RefusesPickling:
    """A future is its client's handle on a task, not a value: it cannot travel to a worker
    (as an argument of another API's task, a pushed value...). Pickling it says so."""

    __slots__ = ()

    def __reduce_ex__(self, protocol):
        raise TypeError("{} cannot be sent to a worker (only its own API takes it as a task's input): "
                        "pass its value instead ({})".format(
                            describe(self), type(self).__treadle_api__[1]))
