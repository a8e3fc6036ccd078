"""``map(..., buffersize=N)``: reads its inputs lazily, at most N calls submitted ahead of the
one the caller reads next (Python 3.14's ``Executor.map(buffersize=)``), so it may go over an
endless iterator or a stream. Without it, ``map`` submits every call at once (one plan, the
fastest), as ``concurrent.futures`` does."""

import collections
import contextlib
import itertools

from .core.errors import propagating_interrupt
from .core.local_traceback import raised_as_local


def positive_int(value, name):
    """``value`` if it is an int >= 1, else a TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError("{} must be an int, not {}".format(name, type(value).__name__))
    if value < 1:
        raise ValueError("{} must be at least 1, not {}".format(name, value))
    return value


def buffered_map(client, fn, iterables, ordered, buffersize, call):
    """Yields fn's results over ``zip(*iterables)``, ``call(fn, args)`` submitting one, with
    at most ``buffersize`` submitted and not yet read."""
    calls = zip(*iterables)
    pending = collections.deque()

    def submit_up_to(count):
        for args in itertools.islice(calls, max(0, count - len(pending))):
            pending.append(call(fn, args))
        client.flush()

    try:
        submit_up_to(buffersize)
        while pending:
            if ordered:
                future = pending.popleft()
            else:
                future = _first_done(client, pending)
                pending.remove(future)
            with raised_as_local:   # leaves the generator as it left result()
                value = future.result()
            future.release()
            submit_up_to(buffersize)   # before the yield: the next calls run while the caller works
            yield value
    finally:
        # Ended early (a failure, a consumer that stopped): what was submitted ahead goes now.
        unread, value, future = list(pending), None, None
        pending.clear()
        if unread and not propagating_interrupt():
            with contextlib.suppress(Exception):  # a closed client: nothing is left to free
                client.cancel(unread)
                client.release(unread)


def _first_done(client, pending):
    done = next((f for f in pending if f.done()), None)
    if done is not None:
        return done
    completed = client.as_completed(list(pending))
    try:
        return next(completed)
    finally:
        completed.close()
