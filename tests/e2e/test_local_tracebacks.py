"""A task's failure read from a plain script reads like local code (docs/python-tasks.md,
*Exceptions*): the caller's frames, then the task's, none of treadle's in between, for every
API (native, SCOOP, HyperLoom, IPython) and for a failure the ``python3 -m treadle.scoop``
program leaves uncaught (no runpy or launcher frames above it). IPython's task interface also
carries a SyntaxError's line and caret, and names a pulled variable that cannot be pickled.

Real processes: the launcher's server and 2 workers (one cpu each) for the script; the module's
cluster (conftest: 2 workers x 2 cpus) for the IPython tasks."""

import os
import re
import traceback

import pytest

from tests.e2e.scoop_programs.launched import launch

from treadle.ipython import client as ipython

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(HERE, "scoop_programs", "failing_layers.py")
SHOWN = ["scoop result", "scoop result again", "scoop map", "scoop mapReduce", "native result", "native gather",
         "native map", "loom gather", "loom future gather", "ipython raise_exception",
         "ipython raise_exception again", "ipython execute", "rain fetch", "rain wait_all again", "uncaught"]


@pytest.fixture(scope="module")
def launched():
    """The program's stderr, by what it showed: {what: traceback text}; and its exit status."""
    return launch(os.path.basename(PROGRAM), r"^=== (.*)\n")


def frames_of(text):
    """[(file, function)] of a printed traceback."""
    return re.findall(r'^  File "([^"]+)", line \d+, in (\S+)$', text, flags=re.M)


@pytest.mark.parametrize("what", SHOWN)
def test_the_traceback_is_the_callers_frames_then_the_tasks(launched, what):
    shown, done = launched
    assert what in shown, done.stderr
    text = shown[what]
    assert text.startswith("Traceback (most recent call last):\n"), text
    frames = frames_of(text)
    files = {f for f, _ in frames}
    # Only the program's own frames (and the code string's, on an IPython engine): no treadle
    # module, no runpy, no launcher.
    assert {f for f in files if not re.fullmatch(r"<treadle engine [0-9a-f]{8}>", f)} <= {PROGRAM}, text
    assert "treadle/" not in text.replace(PROGRAM, "") and "runpy" not in text, text
    callers = [name for f, name in frames if f == PROGRAM and name in ("show", "<lambda>", "<module>")]
    assert callers == (["<module>"] if what == "uncaught" else ["show", "<lambda>"]), text
    if what.startswith("ipython"):
        assert re.fullmatch(r"<treadle engine [0-9a-f]{8}>", frames[-1][0]), text
        assert frames[-1][1] == "<module>" and "{'one': 1}['seven']" in text, text
    else:
        assert frames[-1] == (PROGRAM, "lookup") and '    return {"one": 1}[key]\n' in text, text
    assert re.search(r"^KeyError: .*'seven'", text, flags=re.M), text
    if what.startswith("rain"):   # Rain's own exception, the task's traceback in its message; no chain
        assert re.search(r"^treadle.rain.common.errors.TaskException: Task <Task rain_lookup id=\d+> failed$",
                         text, flags=re.M) and "During handling" not in text, text
        return
    # Where the task failed stays said (str() names the task)
    assert re.search(r"^KeyError: (Task id=\d+|Task \d+ on engine \d+|engine \d+) ", text, flags=re.M), text


def test_an_uncaught_failure_ends_the_program_as_python_would(launched):
    shown, done = launched
    assert done.returncode == 1, done.stderr
    assert "did not raise" not in done.stderr


# ---------------------------------------------------------------------------------------------
# IPython's tasks on the module's cluster

@pytest.fixture(scope="module")
def tc(cluster):
    tc = ipython.TaskClient(cluster.address)
    yield tc
    tc.close()


def test_a_syntax_error_in_a_tasks_code_shows_its_line_and_caret(tc):
    ids = [tc.run(ipython.Task("a = %d" % n, pull="a")) for n in range(3)]
    bad = tc.run(ipython.Task("def f(:\n  pass"))
    tc.barrier(ids + [bad])
    assert [tc.get_task_result(i).results for i in ids] == [{"a": 0}, {"a": 1}, {"a": 2}]
    with pytest.raises(SyntaxError) as info:
        tc.get_task_result(bad).raise_exception()
    error = info.value
    assert (error.lineno, error.offset, error.text) == (1, 7, "def f(:\n")
    assert re.fullmatch(r"<treadle engine [0-9a-f]{8}>", error.filename), error.filename
    shown = "".join(traceback.format_exception(error))
    # As Python shows a SyntaxError in a code string: the file and line, the text, a caret.
    assert '  File "' + error.filename + '", line 1\n    def f(:\n          ^\nSyntaxError: invalid syntax' in shown, shown
    assert "treadle/" not in shown, shown


def test_a_pulled_variable_that_cannot_be_pickled_is_named(tc):
    lock = tc.run(ipython.Task("import threading\nb = 2\na = threading.Lock()", pull=["b", "a"]))
    healthy = tc.run(ipython.Task("s = {1, 2}\nclass_ = type", pull=["s", "class_"]))   # not plain: pickled
    tc.barrier([lock, healthy])
    assert tc.get_task_result(healthy).results == {"s": {1, 2}, "class_": type}
    with pytest.raises(TypeError) as info:
        tc.get_task_result(lock).raise_exception()
    shown = "".join(traceback.format_exception(info.value))
    assert "TypeError: Task: pull['a'] (a _thread.lock) cannot be pickled" in shown, shown
    # Nothing of treadle's or of the pickler's: the caller's frame and the message.
    assert "treadle/" not in shown and "cloudpickle" not in shown and "During handling" not in shown, shown
    assert frames_of(shown) == [(__file__, "test_a_pulled_variable_that_cannot_be_pickled_is_named")], shown


def test_multiengine_pull_names_a_value_that_cannot_be_pickled(cluster):
    with ipython.MultiEngineClient(cluster.address) as mec:
        first = mec.get_ids()[0]
        mec.execute("import threading\nlock = threading.Lock()\ns = {1, 2}", targets=first)
        assert mec.pull("s", targets=first) == {1, 2} and mec.pull(["s"], targets=first) == [{1, 2}]
        with pytest.raises(TypeError) as info:
            mec.pull(["s", "lock"], targets=first)
        shown = "".join(traceback.format_exception(info.value))
        assert "TypeError: pull['lock'] (a _thread.lock) cannot be pickled" in shown, shown
        assert "treadle/" not in shown and "cloudpickle" not in shown, shown
        mec.reset()
