"""A Task's ``push`` pickled at ``run``: a value that cannot travel is refused there, by its name,
rather than when the task is sent (after ``run`` returned its id)."""

from ..core.pickling import dumps, is_plain


def packed(push):
    """A copy of ``push`` when it holds only numbers, strings and short containers of them (they
    always pickle); else its pickle (bytes, which the engine unpickles: ``run_task``), made
    once here. Raises TypeError naming the first key whose value cannot be pickled."""
    if not push or is_plain(push):
        return dict(push)
    try:
        return dumps(push)
    except Exception:
        pass
    for key, value in push.items():
        try:
            dumps(value)
        except Exception as error:
            raise TypeError("Task: push[{!r}] cannot be pickled ({}: {}); push only values that pickle".format(
                key, type(error).__name__, error)) from error
    return dumps(push)   # each value pickles alone: raise what the whole raises

