"""An executor whose first task is a lambda unpickles objects of the program's classes
(docs/scoop.md): ``python3 -m treadle.scoop``'s workers import the program under another name
when something they unpickle names it, as after one of its functions ran there. Real processes:
the launcher's server and 2 workers."""

import pytest

from tests.e2e.scoop_programs.launched import launch


@pytest.mark.timeout(180)
def test_a_lambda_only_executor_unpickles_the_programs_class():
    shown, done = launch("lambda_first.py", r"^=== (.*?): ")
    assert "lambda first" in shown, done.stderr
    # Both points came back, each counted by both workers' executors (one lambda on each).
    assert shown["lambda first"].startswith("ok [(1, 2), (2, 2)]"), shown["lambda first"]
    assert done.returncode == 0, done.stderr
