"""Walks over values that hold futures or tasks inside lists, tuples, sets and dicts: the
arguments of a call, what gather() is given, what a notebook cell assigned."""

_SEQUENCES = (list, tuple, set, frozenset)


def leaves(value, kinds, max_depth=None):
    """The objects of ``kinds`` in ``value`` (also inside lists, tuples, sets, frozensets and
    dict values), in order; containers deeper than ``max_depth`` are not opened."""
    out = []
    _collect(value, kinds, out, max_depth, 0)
    return out


def _collect(value, kinds, out, max_depth, depth):
    if isinstance(value, kinds):
        out.append(value)
    elif max_depth is None or depth < max_depth:
        if isinstance(value, _SEQUENCES):
            for v in value:  # a leaf taken here: gather() of 10,000 futures makes no call per future
                if isinstance(v, kinds):
                    out.append(v)
                else:
                    _collect(v, kinds, out, max_depth, depth + 1)
        elif isinstance(value, dict):
            for v in value.values():
                _collect(v, kinds, out, max_depth, depth + 1)


def holds(value, kinds, max_depth=None):
    """True if ``value`` holds an object of ``kinds`` (stops at the first)."""
    if isinstance(value, kinds):
        return True
    if max_depth is not None and max_depth <= 0:
        return False
    deeper = None if max_depth is None else max_depth - 1
    if isinstance(value, _SEQUENCES):
        return any(holds(v, kinds, deeper) for v in value)
    if isinstance(value, dict):
        return any(holds(v, kinds, deeper) for v in value.values())
    return False


def rebuild(value, replace, kinds, max_depth=None, other_sequences_as_lists=False):
    """``value`` with each object of ``kinds`` replaced by ``replace(it)``: lists, tuples and
    dicts are rebuilt (of their own type); other list and tuple types become lists with
    ``other_sequences_as_lists``, else stay as they are."""
    if isinstance(value, kinds):
        return replace(value)
    if max_depth is not None and max_depth <= 0:
        return value
    deeper = None if max_depth is None else max_depth - 1
    t = type(value)
    if t is list or t is tuple:  # leaves replaced here, without a call per leaf
        return t([replace(v) if isinstance(v, kinds) else rebuild(v, replace, kinds, deeper, other_sequences_as_lists)
                  for v in value])
    if t is dict:
        return {k: rebuild(v, replace, kinds, deeper, other_sequences_as_lists) for k, v in value.items()}
    if other_sequences_as_lists and isinstance(value, (list, tuple)):
        return [rebuild(v, replace, kinds, deeper, other_sequences_as_lists) for v in value]
    return value


def only_leaves(value, kinds, where):
    """``leaves(value, kinds)`` for a call that takes nothing else (``wait``, ``cancel``...):
    ``value`` is one of ``kinds`` or lists, tuples, sets and dicts of them (any iterable at
    the top); anything else is a TypeError naming ``where``, not a call that does nothing."""
    if not isinstance(value, (kinds, _SEQUENCES, dict)):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise _not_futures(value, where)
        value = list(value)   # a generator, dict keys...: read once
    out = []
    _collect_only(value, kinds, where, out, set())
    return out


def _collect_only(value, kinds, where, out, seen):
    if isinstance(value, kinds):
        out.append(value)
        return
    if id(value) in seen:   # a list that contains itself
        return
    if isinstance(value, dict):
        items = value.values()
    elif isinstance(value, _SEQUENCES):
        items = value
    else:
        raise _not_futures(value, where)
    seen.add(id(value))
    for v in items:
        if isinstance(v, kinds):   # a leaf taken here: no call per future
            out.append(v)
        else:
            _collect_only(v, kinds, where, out, seen)


def _not_futures(value, where):
    return TypeError("{} takes futures (or lists, tuples, sets, dicts of them), not {}".format(
        where, type(value).__name__))
