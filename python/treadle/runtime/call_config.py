"""What a native call sends as its task's config: the pickled ("native", args, kwargs), each
future among the arguments pickled as a persistent id, the index of the task's input it is
(``task_runtime.load_config`` puts its value there). The arguments are pickled as they are,
never rebuilt: what they share and what contains itself arrives so, as through a process pool."""

import pickle

from ..core.pickling import SCALAR_TYPES, dumps_plain, dumps_with_ids, is_plain


class _ForeignFuture(ValueError):
    pass


def call_config(args, kwargs, inputs, owns, future_type, name="the function"):
    """The config of a call of ``args`` and ``kwargs``. Futures among them (``future_type``,
    anywhere: in lists, tuples, dicts, sets, objects) are appended to ``inputs``, once each;
    ``owns(future)`` says whether one belongs to the calling client (else ValueError). An
    argument that cannot be pickled raises naming it and ``name``, the function called."""
    if not kwargs and len(args) == 1 and type(args[0]) in SCALAR_TYPES:  # f(i), the most common tiny call
        return dumps_plain(("native", args, kwargs))
    if is_plain(args) and is_plain(kwargs):  # numbers, strings...: no future to replace
        return dumps_plain(("native", args, kwargs))

    indexes = {}   # id(future) -> its input (kept over a retry with cloudpickle)

    def input_index(obj):
        if not isinstance(obj, future_type):
            return None
        index = indexes.get(id(obj))
        if index is None:
            if not owns(obj):
                raise _ForeignFuture("{!r} belongs to another client".format(obj))
            inputs.append(obj)
            index = indexes[id(obj)] = len(inputs) - 1
        return index

    try:
        return dumps_with_ids(("native", args, kwargs), input_index)
    except _ForeignFuture as error:
        raise ValueError(str(error)) from None
    except Exception as error:
        raise _unpicklable(args, kwargs, name, error, future_type) from error


def _unpicklable(args, kwargs, name, error, future_type):
    """The error to raise for a call whose arguments did not pickle: which one did not."""
    named = [("positional argument {}".format(i + 1), a) for i, a in enumerate(args)]
    named += [("keyword argument {!r}".format(k), v) for k, v in kwargs.items()]
    for what, value in named:
        try:
            dumps_with_ids(value, lambda obj: 0 if isinstance(obj, future_type) else None)
        except Exception as own:
            error = own
            break
    else:
        what, value = "an argument", None
    kind = type(error) if isinstance(error, (TypeError, pickle.PicklingError)) else TypeError
    return kind("{} of {}() cannot be sent to a worker ({} could not be pickled: {})".format(
        what, name, "a " + type(value).__name__ if value is not None else "it", error))
