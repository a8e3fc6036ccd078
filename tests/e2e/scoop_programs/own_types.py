"""Run by tests/e2e/test_scoop_own_types.py under ``python3 -m treadle.scoop -n 2``: the
program's own classes (an exception, a result's type) come back from the workers, which import
the program under another name, as the program's own classes, as in a local run; the exception
``exception()`` returns (SCOOP's and the native API's) has the task's frames only. Each check
prints "=== name: ok" or "=== name: FAILED" and its traceback."""

import os
import sys
import traceback

import treadle
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
        shown = "".join(traceback.format_exception(error))   # named as python3 program.py names it
        assert "__treadle_scoop_program__" not in shown and "failed: FitError: model 3" in shown, shown
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


def only_the_tasks_frames(error):
    """The frames of ``error``'s traceback are the task's (fit), none of treadle's."""
    frames = [(os.path.basename(f.filename), f.name) for f in traceback.extract_tb(error.__traceback__)]
    shown = "".join(traceback.format_exception(error))
    assert frames == [("own_types.py", "fit")] and "treadle/" not in shown, shown


def scoop_exception_has_the_tasks_frames():
    only_the_tasks_frames(futures.submit(fit, 3).exception())


def native_exception_has_the_tasks_frames():
    host, port = os.environ["TREADLE_ADDRESS"].rsplit(":", 1)
    with treadle.Client((host, int(port)), output=None) as client:
        only_the_tasks_frames(client.submit(fit, 3).exception())


if __name__ == "__main__":
    check("result", caught_by_result)
    check("map", caught_in_map)
    check("exception", returned_by_exception)
    check("done callback", seen_by_a_done_callback)
    check("cause", a_cause_of_its_own_type)
    check("result type", a_result_of_its_own_type)
    check("exception traceback", scoop_exception_has_the_tasks_frames)
    check("native exception traceback", native_exception_has_the_tasks_frames)
