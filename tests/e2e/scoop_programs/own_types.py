"""Run by tests/e2e/test_scoop_own_types.py under ``python3 -m treadle.scoop -n 2``: the
program's own classes (an exception, a result's type) come back from the workers, which import
the program under another name, as the program's own classes, as in a local run. Each check
prints "=== name: ok" or "=== name: FAILED" and its traceback."""

import sys
import traceback

from treadle.scoop import futures


class FitError(Exception):
    def __init__(self, message, model):
        super().__init__(message)
        self.model = model


class Point:
    def __init__(self, x):
        self.x = x


def fit(i):
    if i == 3:
        raise FitError("model {} did not converge".format(i), model=i)
    return i


def wrapped_fit(i):
    try:
        fit(i)
    except FitError as error:
        raise RuntimeError("fit {} failed".format(i)) from error


def point(x):
    return Point(x)


def check(name, test):
    try:
        test()
    except Exception:
        print("=== {}: FAILED".format(name), file=sys.stderr, flush=True)
        traceback.print_exc()
    else:
        print("=== {}: ok".format(name), file=sys.stderr, flush=True)


def caught_by_result():
    try:
        futures.submit(fit, 3).result()
    except FitError as error:
        assert error.model == 3 and "model 3 did not converge" in str(error), (error.model, str(error))
    else:
        raise AssertionError("no FitError")


def caught_in_map():
    got = []
    try:
        for value in futures.map(fit, range(6)):
            got.append(value)
    except FitError as error:
        assert got == [0, 1, 2] and error.model == 3, (got, error.model)
    else:
        raise AssertionError("no FitError")


def returned_by_exception():
    error = futures.submit(fit, 3).exception()
    assert isinstance(error, FitError) and error.model == 3, repr(error)


def seen_by_a_done_callback():
    seen = []
    f = futures.submit(fit, 3)
    f.add_done_callback(seen.append)
    futures.wait([f])
    assert seen == [f] and isinstance(seen[0].exception(), FitError), seen


def a_cause_of_its_own_type():
    try:
        futures.submit(wrapped_fit, 3).result()
    except RuntimeError as error:
        assert type(error.__cause__) is FitError and error.__cause__.model == 3, repr(error.__cause__)
    else:
        raise AssertionError("no RuntimeError")


def a_result_of_its_own_type():
    value = futures.submit(point, 7).result()
    assert type(value) is Point and value.x == 7, repr(value)


if __name__ == "__main__":
    check("result", caught_by_result)
    check("map", caught_in_map)
    check("exception", returned_by_exception)
    check("done callback", seen_by_a_done_callback)
    check("cause", a_cause_of_its_own_type)
    check("result type", a_result_of_its_own_type)
