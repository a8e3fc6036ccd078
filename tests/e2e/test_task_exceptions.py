"""A Python task's exception reaches the client as itself (docs/python-tasks.md, "Errors"):
``except ZeroDivisionError`` catches it, and so do ``except treadle.TaskError`` / ``TaskFailed``;
its traceback holds the task's frames (not treadle's); dependents raise it too; exceptions
that cannot travel fall back to the plain task error with the text.

The module's cluster (conftest) has 2 workers with 2 cpus each.
"""

import pickle
import sys
import threading
import traceback

import cloudpickle
import pytest

import treadle
from treadle.loom.client import TaskFailed, tasks

# Functions and classes of this module travel by value: the executors cannot import it.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def native(cluster):
    c = treadle.Client(cluster, output=None)
    yield c
    c.close()


class CustomError(Exception):
    """An exception with its own constructor and attributes."""

    def __init__(self, code, reason):
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class Unpicklable(Exception):
    """Holds a lock: cannot be pickled in the executor."""

    def __init__(self, text):
        super().__init__(text)
        self.lock = threading.Lock()


class LockInArgs(Exception):
    """Its args hold a lock: neither it nor its parts pickle."""

    def __init__(self, text):
        super().__init__(text, threading.Lock())


def _refuse_to_load():
    raise RuntimeError("this exception cannot be unpickled")


class UnloadableError(Exception):
    """Pickles in the executor, but unpickling it in the client fails."""

    def __reduce__(self):
        return (_refuse_to_load, ())


class SealedError(Exception):
    """Cannot be subclassed, so no subclass can also be a TaskError."""

    def __init_subclass__(cls, **kwargs):
        raise TypeError("SealedError is sealed")


def level_two(x):
    return 1 / x


def level_one(x):
    return level_two(x - 1)


def raise_custom(code):
    raise CustomError(code, "custom reason")


def raise_chained():
    try:
        {}["missing key"]
    except KeyError as error:
        raise ValueError("while looking it up") from error


def raise_instance(error):
    raise error


def raise_made_in_the_task(error_class, text):
    raise error_class(text)  # made here: the instance itself may not travel to the task


def remote_frames(error):
    return [frame.name for frame in traceback.extract_tb(error.__traceback__)]


# ---------------------------------------------------------------------------------------------
# Native API

def test_the_tasks_own_exception_type_is_raised(native):
    f = native.submit(level_one, 1)
    try:
        f.result()
    except ZeroDivisionError as error:
        caught = error
    assert isinstance(caught, treadle.TaskError) and isinstance(caught, TaskFailed)
    assert type(caught).__name__ == "ZeroDivisionError"
    assert caught.args == ("division by zero",)
    assert caught.task_id == caught.origin_id == f.task_id
    assert caught.label == "level_one" and caught.worker
    message = str(caught)
    assert "(level_one)" in message and "ZeroDivisionError: division by zero" in message
    assert "on worker " + caught.worker in message
    # except treadle.TaskError catches it too
    with pytest.raises(treadle.TaskError):
        f.result()


def test_the_traceback_shows_the_tasks_frames_and_source_not_treadles(native):
    with pytest.raises(ZeroDivisionError) as info:
        native.submit(level_one, 1).result()
    frames = traceback.extract_tb(info.value.__traceback__)
    names = [frame.name for frame in frames]
    assert names[-2:] == ["level_one", "level_two"]
    assert frames[-1].filename == __file__ and frames[-1].line == "return 1 / x"
    assert frames[-2].line == "return level_two(x - 1)"
    remote_files = [frame.filename for frame in frames[names.index("level_one"):]]
    assert not any("/treadle/" in name for name in remote_files)  # no executor frames
    shown = "".join(traceback.format_exception(info.value))
    assert "executor.py" not in shown and "task_runtime.py" not in shown
    assert "^^^" not in shown.split("in level_one")[1]  # no column marks from the rebuilt frames


def test_a_custom_exception_class_keeps_its_attributes(native):
    with pytest.raises(CustomError) as info:
        native.submit(raise_custom, 7).result()
    error = info.value
    assert error.code == 7 and error.reason == "custom reason"
    assert error.args == (7, "custom reason")
    assert isinstance(error, treadle.TaskError)
    assert type(error).__bases__[0] is CustomError  # the client's own class, not a copy


def test_the_cause_travels_with_the_exception(native):
    with pytest.raises(ValueError) as info:
        native.submit(raise_chained).result()
    cause = info.value.__cause__
    assert isinstance(cause, KeyError) and cause.args == ("missing key",)
    assert remote_frames(cause) == ["raise_chained"]
    shown = "".join(traceback.format_exception(info.value))
    assert "The above exception was the direct cause" in shown and "{}[\"missing key\"]" in shown


def raise_from_generated_code(name):
    import linecache
    source = "def generated():\n    raise KeyError('from generated code')\n"
    linecache.cache[name] = (len(source), None, source.splitlines(True), name)  # only here
    namespace = {}
    exec(compile(source, name, "exec"), namespace)
    namespace["generated"]()


def test_lines_only_the_worker_has_are_shown_too(native):
    name = "<generated {}>".format(id(native))
    with pytest.raises(KeyError) as info:
        native.submit(raise_from_generated_code, name).result()
    frame = traceback.extract_tb(info.value.__traceback__)[-1]
    assert (frame.filename, frame.lineno, frame.name) == (name, 2, "generated")
    assert frame.line == "raise KeyError('from generated code')"


def test_an_exception_with_an_attribute_that_cannot_be_pickled_keeps_its_type(native):
    # The user's `except Unpicklable` catches it; the attribute that stayed behind is named.
    with pytest.raises(Unpicklable) as info:
        native.submit(raise_made_in_the_task, Unpicklable, "no pickling").result()
    error = info.value
    assert isinstance(error, treadle.TaskError) and error.args == ("no pickling",)
    assert not hasattr(error, "lock")
    assert error.__notes__ == ["(its attribute lock (a _thread.lock) could not be pickled: it stayed in the task)"]
    assert "Unpicklable: no pickling" in str(error)
    frame = traceback.extract_tb(error.__traceback__)[-1]
    assert frame.name == "raise_made_in_the_task"   # the task's own frames, as a local error's


def test_an_exception_whose_args_cannot_be_pickled_falls_back_to_the_task_error(native):
    with pytest.raises(treadle.TaskError) as info:
        native.submit(raise_made_in_the_task, LockInArgs, "no pickling").result()
    error = info.value
    assert type(error) is treadle.TaskError
    assert "LockInArgs: ('no pickling', <unlocked _thread.lock object" in str(error)
    assert "Traceback (most recent call last)" in str(error)  # the text carries the frames


def test_an_exception_that_cannot_be_unpickled_falls_back_to_the_task_error(native):
    with pytest.raises(treadle.TaskError) as info:
        native.submit(raise_made_in_the_task, UnloadableError, "lost").result()
    assert type(info.value) is treadle.TaskError
    assert "UnloadableError: lost" in str(info.value)


def test_an_exception_type_that_cannot_be_subclassed_falls_back_to_the_task_error(native):
    with pytest.raises(treadle.TaskError) as info:
        native.submit(raise_instance, SealedError("sealed")).result()
    assert type(info.value) is treadle.TaskError
    assert "SealedError: sealed" in str(info.value)


def test_system_exit_in_a_task_does_not_exit_the_client(native):
    with pytest.raises(treadle.TaskError) as info:
        native.submit(raise_instance, SystemExit(3)).result()
    assert not isinstance(info.value, SystemExit)


def test_dependents_raise_the_original_exception_naming_the_task_that_failed(native):
    bad = native.submit(level_one, 1)
    child = native.submit(lambda x: x + 1, bad)
    grandchild = native.submit(lambda xs: xs, [child, native.submit(abs, -2)])
    with pytest.raises(ZeroDivisionError) as info:
        grandchild.result()
    error = info.value
    assert isinstance(error, treadle.TaskError)
    assert error.origin_id == bad.task_id and error.task_id == grandchild.task_id
    assert "input task {} (level_one) failed".format(bad.task_id) in str(error)
    assert remote_frames(error)[-2:] == ["level_one", "level_two"]
    with pytest.raises(ZeroDivisionError):
        treadle.gather({"x": [child]})
    with pytest.raises(ZeroDivisionError):
        native.wait([child])


def test_the_raised_exception_pickles_as_the_tasks_plain_type(native):
    with pytest.raises(CustomError) as info:
        native.submit(raise_custom, 3).result()
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is CustomError and again.args == (3, "custom reason")


# ---------------------------------------------------------------------------------------------
# HyperLoom client

def test_loom_client_raises_the_tasks_own_exception_type(client):
    @tasks.py_task(label="divide")
    def divide(a):
        return 1 / int(a.read())

    f = client.submit_one(divide(tasks.const(b"0")))
    try:
        f.gather()
    except ZeroDivisionError as error:
        caught = error
    assert isinstance(caught, TaskFailed) and not isinstance(caught, treadle.TaskError)
    assert caught.task_id == f.task_id and caught.task_type == tasks.PY_CALL and caught.label == "divide"
    assert remote_frames(caught)[-1] == "divide"
    assert "Task id={} (divide) failed: ZeroDivisionError: division by zero".format(f.task_id) in str(caught)


def test_loom_client_dependents_raise_the_original_exception(client):
    @tasks.py_task()
    def fails():
        raise CustomError(5, "loom")

    @tasks.py_task()
    def after(x):
        return x.read()

    bad = fails()
    f = client.submit_one(after(bad))
    with pytest.raises(CustomError) as info:
        f.gather()
    assert info.value.code == 5 and info.value.task_id == f.task_id
    assert info.value.origin_id != f.task_id


def test_loom_client_non_python_failures_stay_task_failed(client):
    f = client.submit_one(tasks.run("sh -c 'exit 3'"))
    with pytest.raises(TaskFailed) as info:
        f.gather()
    assert type(info.value) is TaskFailed
