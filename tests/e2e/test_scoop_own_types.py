"""The classes a program run by ``python3 -m treadle.scoop`` defines come back from its futures
as themselves (docs/scoop.md): workers import the program under another name, yet ``except
FitError`` catches a task's FitError in result(), a map, exception() and done callbacks, a
chained cause keeps its type, and a result's class is the program's. The exception ``exception()``
returns (SCOOP's and the native API's) has the task's frames only, none of treadle's. Real processes: the
launcher's server and 2 workers."""

import os

import pytest

from tests.e2e.scoop_programs.launched import launch

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(HERE, "scoop_programs", "own_types.py")
CHECKS = ["result", "map", "exception", "done callback", "cause", "result type"]
TRACEBACKS = ["exception traceback", "native exception traceback"]


@pytest.fixture(scope="module")
def launched():
    """{check: its output after "=== check: "}, and the finished process."""
    return launch(os.path.basename(PROGRAM), r"^=== (.*?): ")


@pytest.mark.parametrize("check", CHECKS)
def test_a_class_of_the_program_comes_back_as_itself(launched, check):
    shown, done = launched
    assert check in shown, done.stderr
    assert shown[check].startswith("ok"), shown[check]


@pytest.mark.parametrize("check", TRACEBACKS)
def test_the_exception_returned_by_exception_has_the_tasks_frames_only(launched, check):
    shown, done = launched
    assert check in shown, done.stderr
    assert shown[check].startswith("ok"), shown[check]


def test_the_program_ends_well(launched):
    shown, done = launched
    assert done.returncode == 0, done.stderr
