"""Run by tests/e2e/test_scoop_callbacks.py under ``python3 -m treadle.scoop -n 2``: done
callbacks that read their future (``exception()``, ``done()``, ``result()``, several times)
leave later waits on it working, as concurrent.futures' do. Each check prints "=== name: ok" or
"=== name: FAILED" and its traceback."""

import itertools
import sys
import time
import traceback

from treadle.scoop import futures

READERS = ("exception", "done", "result")
WAITERS = ("wait", "as_completed", "done then wait", "results")


def work(i, fails):
    time.sleep(0.2)
    if fails:
        raise ValueError("call {} failed".format(i))
    return i


def read(future, how):
    """What a callback reads: ``how`` once, then everything again (any number, any order)."""
    for reader in (how,) + READERS:
        try:
            getattr(future, reader)()
        except ValueError:
            pass


def waits(future, how):
    if how == "wait":
        done, not_done = futures.wait([future])
        assert done == {future} and not not_done, (done, not_done)
    elif how == "as_completed":
        assert list(futures.as_completed([future])) == [future]
    elif how == "done then wait":
        while not future.done():
            time.sleep(0.01)
        assert futures.wait([future]).done == {future}
    else:
        try:
            assert futures.results([future]) == [future.result()]
        except ValueError:
            pass


def check(name, test):
    try:
        test()
    except Exception:
        print("=== {}: FAILED".format(name), file=sys.stderr, flush=True)
        traceback.print_exc()
    else:
        print("=== {}: ok".format(name), file=sys.stderr, flush=True)


def checked(future, reader, waiter, fails, read_by_callback):
    def test():
        waits(future, waiter)
        assert read_by_callback == [future], read_by_callback
        if fails:
            assert isinstance(future.exception(), ValueError) and future.done()
        else:
            assert future.exception() is None and future.result() == future.args[0]
    return test


if __name__ == "__main__":
    combinations = list(itertools.product(READERS, WAITERS, (False, True)))
    submitted = []
    for i, (reader, waiter, fails) in enumerate(combinations):   # all first: they run meanwhile
        future = futures.submit(work, i, fails)
        future.args = (i,)
        seen = []
        future.add_done_callback(lambda f, how=reader, seen=seen: (read(f, how), seen.append(f)))
        submitted.append((future, seen))
    for (reader, waiter, fails), (future, seen) in zip(combinations, submitted):
        name = "{} in a callback, then {} ({})".format(reader, waiter, "failing" if fails else "healthy")
        check(name, checked(future, reader, waiter, fails, seen))
    # A callback that reads another future of the same wait
    first, second = futures.submit(work, 100, False), futures.submit(work, 101, True)
    first.add_done_callback(lambda f: read(second, "result"))
    second.add_done_callback(lambda f: read(first, "result"))
    check("callbacks reading each other, then wait",
          lambda: futures.wait([first, second]).done == {first, second} or 1 / 0)
