"""A task's exception keeps, in the caller, the fields that pickling an exception drops
(docs/python-tasks.md, "Errors"): values in the ``__slots__`` of the user's class, and the
built-in types' own fields (``AttributeError.name`` and ``.obj``, ``NameError.name``), besides
those pickling keeps (``ImportError.name``/``path``, ``OSError``'s ``errno``/``filename``).
A script with its own local cluster raises each in a task and locally, and compares."""

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent('''\
    import json
    import treadle

    class Slotted(Exception):
        __slots__ = ("x", "__hidden")

        def __init__(self, x):
            super().__init__(x)
            self.x = x
            self.__hidden = x * 2

    class SlottedChild(Slotted):
        __slots__ = "y"

        def __init__(self, x, y):
            Exception.__init__(self, x, y)
            self.x = x
            self.y = y
            self.note = "in __dict__"

    class Thing:
        def __init__(self, tag):
            self.tag = tag

        def __eq__(self, other):
            return isinstance(other, Thing) and other.tag == self.tag

    def slotted():
        raise Slotted(3)

    def slotted_child():
        raise SlottedChild(4, "why")

    def missing_attribute():
        return Thing("t1").nope

    def missing_lock_attribute():
        import threading
        return threading.Lock().nope   # obj is a lock: it cannot travel, name still does

    def missing_name():
        return undefined_name

    def missing_import():
        from json import nope

    def missing_file():
        open("/nonexistent/dir/file.txt")

    def fields(error):
        return {
            "type": type(error).__name__,
            "x": getattr(error, "x", "MISSING"),
            "hidden": getattr(error, "_Slotted__hidden", "MISSING"),
            "y": getattr(error, "y", "MISSING"),
            "note": getattr(error, "note", "MISSING"),
            "name": getattr(error, "name", "MISSING"),
            "obj": (repr(error.obj) if not isinstance(error.obj, Thing) else "Thing " + error.obj.tag)
                   if isinstance(error, AttributeError) else None,
            "path": getattr(error, "path", "MISSING"),
            "errno": getattr(error, "errno", "MISSING"),
            "filename": getattr(error, "filename", "MISSING"),
            "args": [str(a) for a in error.args],
        }

    def run(function, client):
        local = remote = None
        try:
            function()
        except Exception as error:
            local = fields(error)
        try:
            client.submit(function).result()
        except Exception as error:
            remote = fields(error)
            remote["task_error"] = isinstance(error, treadle.TaskError)
        return {"local": local, "remote": remote}

    if __name__ == "__main__":
        cases = [slotted, slotted_child, missing_attribute, missing_lock_attribute, missing_name,
                 missing_import, missing_file]
        with treadle.local_cluster(workers=2, cpus=1) as cluster:
            client = treadle.Client(cluster, output=None)
            print(json.dumps({f.__name__: run(f, client) for f in cases}))
    ''')


def test_exception_fields_reach_the_caller_as_locally(tmp_path):
    script = tmp_path / "fields.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    for case, result in results.items():
        remote = dict(result["remote"])
        assert remote.pop("task_error") is True, case
        local = result["local"]
        if case == "missing_lock_attribute":   # the lock itself stays behind
            assert local["obj"].startswith("<unlocked _thread.lock") and remote["obj"] == "None", result
            remote["obj"] = local["obj"]
        assert remote == local, case
    assert results["slotted"]["remote"]["x"] == 3 and results["slotted"]["remote"]["hidden"] == 6
    assert results["slotted_child"]["remote"]["y"] == "why"
    assert results["missing_attribute"]["remote"]["name"] == "nope"
    assert results["missing_attribute"]["remote"]["obj"] == "Thing t1"
    assert results["missing_lock_attribute"]["remote"]["name"] == "nope"
    assert results["missing_name"]["remote"]["name"] == "undefined_name"
    assert results["missing_import"]["remote"]["name"] == "json"
    assert results["missing_file"]["remote"]["errno"] == 2
