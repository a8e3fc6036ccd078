"""A SCOOP done callback may read its future (``exception()``, ``done()``, ``result()``, any
number of times, in any order) and a later ``futures.wait``, ``as_completed``, ``done()`` or
``results`` of it still works, for healthy and failing calls, as concurrent.futures' callbacks
do. Real processes: ``python3 -m treadle.scoop -n 2`` runs the program."""

import itertools
import os

import pytest

from tests.e2e.scoop_programs.launched import launch

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(HERE, "scoop_programs", "reading_callbacks.py")
CHECKS = ["{} in a callback, then {} ({})".format(r, w, outcome) for r, w, outcome in itertools.product(
    ("exception", "done", "result"), ("wait", "as_completed", "done then wait", "results"), ("healthy", "failing"))]
CHECKS.append("callbacks reading each other, then wait")


@pytest.fixture(scope="module")
def launched():
    """{check: its output after "=== check: "}, and the finished process."""
    return launch(os.path.basename(PROGRAM), r"^=== (.*?): (?=ok|FAILED)")


@pytest.mark.parametrize("check", CHECKS)
def test_a_callback_reading_its_future_leaves_later_waits_working(launched, check):
    shown, done = launched
    assert check in shown, done.stderr
    assert shown[check].startswith("ok"), shown[check]


def test_the_program_ends_well(launched):
    shown, done = launched
    assert done.returncode == 0, done.stderr
    assert "done callback" not in done.stderr, done.stderr   # no callback raised (they are logged)
