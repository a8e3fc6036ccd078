"""What a native call sends as its task's config: the pickled ("native", args, kwargs), the
futures among the arguments replaced by placeholders (``Ref``) for the task's inputs."""

from ..core import walk
from ..core.pickling import dumps, dumps_plain, is_plain
from .task_runtime import Ref


def call_config(args, kwargs, inputs, owns, future_type):
    """The config of a call of ``args`` and ``kwargs``. Futures among them (``future_type``,
    also nested in lists, tuples, dicts) are appended to ``inputs`` and replaced by Refs;
    ``owns(future)`` says whether one belongs to the calling client (else ValueError)."""
    if is_plain(args) and is_plain(kwargs):  # numbers, strings...: no future to replace
        return dumps_plain(("native", args, kwargs))

    def ref(future):
        if not owns(future):
            raise ValueError("{!r} belongs to another client".format(future))
        inputs.append(future)
        return Ref(len(inputs) - 1)

    return dumps(("native", walk.rebuild(args, ref, future_type), walk.rebuild(kwargs, ref, future_type)))
