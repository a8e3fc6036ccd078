"""What a native call sends as its task's config: the pickled ("native", args, kwargs), the
futures among the arguments replaced by placeholders (``Ref``) for the task's inputs."""

import pickle

from ..core import walk
from ..core.pickling import SCALAR_TYPES, dumps, dumps_plain, is_plain
from .task_runtime import Ref


def call_config(args, kwargs, inputs, owns, future_type, name="the function"):
    """The config of a call of ``args`` and ``kwargs``. Futures among them (``future_type``,
    also nested in lists, tuples, dicts) are appended to ``inputs`` and replaced by Refs;
    ``owns(future)`` says whether one belongs to the calling client (else ValueError). An
    argument that cannot be pickled raises naming it and ``name``, the function called."""
    if not kwargs and len(args) == 1 and type(args[0]) in SCALAR_TYPES:  # f(i), the most common tiny call
        return dumps_plain(("native", args, kwargs))
    if is_plain(args) and is_plain(kwargs):  # numbers, strings...: no future to replace
        return dumps_plain(("native", args, kwargs))

    def ref(future):
        if not owns(future):
            raise ValueError("{!r} belongs to another client".format(future))
        inputs.append(future)
        return Ref(len(inputs) - 1)

    args, kwargs = walk.rebuild(args, ref, future_type), walk.rebuild(kwargs, ref, future_type)
    try:
        return dumps(("native", args, kwargs))
    except Exception as error:
        raise _unpicklable(args, kwargs, name, error) from error


def _unpicklable(args, kwargs, name, error):
    """The error to raise for a call whose arguments did not pickle: which one did not."""
    named = [("positional argument {}".format(i + 1), a) for i, a in enumerate(args)]
    named += [("keyword argument {!r}".format(k), v) for k, v in kwargs.items()]
    for what, value in named:
        try:
            dumps(value)
        except Exception as own:
            error = own
            break
    else:
        what, value = "an argument", None
    kind = type(error) if isinstance(error, (TypeError, pickle.PicklingError)) else TypeError
    return kind("{} of {}() cannot be sent to a worker ({} could not be pickled: {})".format(
        what, name, "a " + type(value).__name__ if value is not None else "it", error))
