"""The text of a task's failure reads as the same failure would locally (docs/python-tasks.md,
"Errors"): a failure that came up through nested tasks names its exception once and each task of
the chain on its own line; an exception group's members and an exception's notes print once; a
cause that could not travel shows under its own type name, not treadle's; and a local cluster's
executors import the modules beside the script that started it.

Real processes: the module's cluster (conftest: 2 workers x 2 cpus); a script's own local cluster."""

import os
import re
import subprocess
import sys
import textwrap
import threading
import traceback

import cloudpickle
import pytest

import treadle

# Functions and classes of this module travel by value: the executors cannot import it.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


@pytest.fixture(scope="module")
def native(cluster):
    c = treadle.Client(cluster, output=None)
    yield c
    c.close()


def node(n):
    if n == 0:
        raise ValueError("hit zero")
    import treadle
    return treadle.submit(node, n - 1).result()


def raise_group():
    raise ExceptionGroup("many", [ValueError("first member"), KeyError("second member")])


def raise_noted():
    error = ValueError("bad row")
    error.add_note("while reading row 7")
    raise error


class HoldsLock(Exception):
    def __init__(self, text):
        super().__init__(text)
        self.lock = threading.Lock()


class LockInArgs(Exception):
    """Its args hold a lock: it cannot travel, even in parts."""

    def __init__(self, text):
        super().__init__(text, threading.Lock())

    def __str__(self):
        return self.args[0]


def raise_from_lock_holder(kind=HoldsLock):
    try:
        raise kind("db connection dropped")
    except kind as error:
        raise RuntimeError("query failed") from error


def shown(error):
    return "".join(traceback.format_exception(error))


def test_a_failure_through_nested_tasks_names_each_task_once(native):
    with pytest.raises(ValueError) as info:
        native.submit(node, 2).result()
    error = info.value
    outer = error.task_id
    lines = str(error).splitlines()
    assert lines[0] == "Task id={} (node) failed: ValueError: hit zero".format(outer)
    where = [re.fullmatch(r"\(on worker (.+), task (\d+)\)", line) for line in lines[1:]]
    assert len(where) == 3 and all(where), lines
    assert int(where[-1].group(2)) == outer
    assert len({int(w.group(2)) for w in where}) == 3   # innermost first, then the tasks that waited
    assert shown(error).count("ValueError: hit zero") == 1
    assert [f.name for f in traceback.extract_tb(error.__traceback__)][-3:] == ["node", "node", "node"]


def test_an_exception_groups_members_print_once(native):
    with pytest.raises(ExceptionGroup) as info:
        native.submit(raise_group).result()
    text = shown(info.value)
    assert text.count("ValueError: first member") == 1 and text.count("KeyError: 'second member'") == 1, text
    assert "failed: ExceptionGroup: many (2 sub-exceptions)" in str(info.value)
    assert len(info.value.exceptions) == 2


def test_a_note_prints_once(native):
    with pytest.raises(ValueError) as info:
        native.submit(raise_noted).result()
    assert info.value.__notes__ == ["while reading row 7"]
    assert shown(info.value).count("while reading row 7") == 1
    assert "while reading row 7" not in str(info.value)


def test_a_cause_with_an_attribute_that_cannot_travel_keeps_its_type(native):
    with pytest.raises(RuntimeError) as info:
        native.submit(raise_from_lock_holder).result()
    cause = info.value.__cause__
    assert type(cause) is HoldsLock and str(cause) == "db connection dropped" and not hasattr(cause, "lock")
    assert cause.__notes__ == ["(its attribute lock (a _thread.lock) could not be pickled: it stayed in the task)"]
    text = shown(info.value)
    assert "\n{}.HoldsLock: db connection dropped\n".format(__name__) in text, text  # as locally


def test_a_cause_that_cannot_travel_shows_its_own_type_name(native):
    with pytest.raises(RuntimeError) as info:
        native.submit(raise_from_lock_holder, LockInArgs).result()
    cause = info.value.__cause__
    assert isinstance(cause, treadle.core.remote_exception.RemoteError)
    assert type(cause).__name__ == "LockInArgs" and str(cause) == "db connection dropped"
    text = shown(info.value)
    assert "\n{}.LockInArgs: db connection dropped\n".format(__name__) in text, text  # as locally
    assert "RemoteError" not in text


def test_a_local_clusters_executors_import_modules_beside_the_script(tmp_path):
    project = tmp_path / "proj"
    project.mkdir()
    (project / "mylib.py").write_text(textwrap.dedent("""\
        def check_row(row):
            if row < 0:
                raise ValueError("negative row")
            return row * 2
        """))
    (project / "run.py").write_text(textwrap.dedent("""\
        import treadle
        from mylib import check_row

        with treadle.local_cluster(workers=2, cpus=1) as cluster:
            client = treadle.Client(cluster, output=None)
            print(client.gather([client.submit(check_row, i) for i in range(4)]))
            client.submit(check_row, -1).result()
        """))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run([sys.executable, str(project / "run.py")], cwd=elsewhere, capture_output=True,
                          text=True, timeout=120)
    assert done.stdout.strip() == "[0, 2, 4, 6]", done.stderr
    assert "ModuleNotFoundError" not in done.stderr
    assert '{}", line 3, in check_row'.format(project / "mylib.py") in done.stderr, done.stderr
    assert "ValueError: Task id=" in done.stderr and "negative row" in done.stderr


def test_a_module_only_the_client_has_is_named_with_how_workers_import(native, tmp_path, monkeypatch):
    (tmp_path / "client_only_helpers.py").write_text("def triple(x):\n    return 3 * x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import client_only_helpers
    with pytest.raises(ModuleNotFoundError) as info:
        native.submit(client_only_helpers.triple, 2).result()
    assert "No module named 'client_only_helpers'" in str(info.value)
    assert any("'client_only_helpers' is not on this worker's sys.path" in note for note in info.value.__notes__)
    assert shown(info.value).count("is not on this worker's sys.path") == 1
