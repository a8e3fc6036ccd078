"""IPython tasks' code strings each show their own lines in a plain script's traceback
(docs/ipython.md): each has a pseudo-file of its own (``<treadle engine 1a2b3c4d>``,
runtime.code_strings) and its whole source comes with its failure, so task ``a`` never shows
task ``b``'s line at the same number, and a frame's context lines are there. A script against a
real local cluster (2 workers, 1 cpu each)."""

import json
import textwrap

from tests.conftest import run_script

SCRIPT = textwrap.dedent("""
    import json, linecache, traceback, treadle
    from treadle.ipython import client as ipc

    with treadle.local_cluster(workers=2, cpus=1) as cluster:
        tc = ipc.TaskClient(cluster.address)
        a = tc.run(ipc.Task("total = undefined_a + 1"))
        b = tc.run(ipc.Task("ratio = 1 / 0"))
        c = tc.run(ipc.Task("def f(a):\\n    return a[3]\\ny = f([1])"))
        tc.barrier([a, b, c])
        shown = {}
        for name, i in (("a", a), ("b", b), ("c", c)):
            try:
                tc.get_task_result(i).raise_exception()
            except Exception as error:
                last = traceback.extract_tb(error.__traceback__)[-1]
                shown[name] = {"text": traceback.format_exc(), "file": last.filename,
                               "source": "".join(linecache.getlines(last.filename))}
        tc.close()
    print(json.dumps(shown))
""")


def test_each_ipython_task_shows_its_own_code():
    done = run_script(SCRIPT, timeout=120)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout.strip().splitlines()[-1])
    assert "    total = undefined_a + 1\nNameError" in shown["a"]["text"], shown["a"]["text"]
    assert "    ratio = 1 / 0\nZeroDivisionError" in shown["b"]["text"], shown["b"]["text"]
    assert "    return a[3]\nIndexError" in shown["c"]["text"], shown["c"]["text"]
    assert len({s["file"] for s in shown.values()}) == 3, shown
    for s in shown.values():
        assert s["file"].startswith("<treadle engine ") and "treadle/" not in s["text"], s
    # The whole source, for context lines and debuggers.
    assert shown["c"]["source"].rstrip("\n") == "def f(a):\n    return a[3]\ny = f([1])", shown["c"]
    assert shown["a"]["source"].rstrip("\n") == "total = undefined_a + 1", shown["a"]
