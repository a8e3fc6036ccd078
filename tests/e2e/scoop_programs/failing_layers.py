"""Run by tests/e2e/test_local_tracebacks.py under ``python3 -m treadle.scoop -n 2``: a task of
each API fails among healthy ones, and each failure's traceback is printed as a script would
(after a line "=== what"); the last one is left uncaught (the program ends with it, status 1)."""

import os
import sys
import traceback

import treadle
from treadle.ipython import client as ipython
from treadle.loom.client import Client as LoomClient, tasks
from treadle.rain import client as rain
from treadle.scoop import futures


def lookup(key):
    return {"one": 1}[key]


@rain.remote()
def rain_lookup(ctx, key):
    return str(lookup(key)).encode()


@tasks.py_task(label="loom_lookup")
def loom_lookup(key):
    return str(lookup(key.read().decode()))


def show(what, call):
    print("=== " + what, file=sys.stderr, flush=True)
    try:
        call()
    except (KeyError, rain.TaskException):
        traceback.print_exc()
    else:
        print("did not raise", file=sys.stderr, flush=True)


if __name__ == "__main__":
    host, port = os.environ["TREADLE_ADDRESS"].rsplit(":", 1)
    # SCOOP
    fs = [futures.submit(lookup, key) for key in ("one", "seven", "one")]
    assert [fs[0].result(), fs[2].result()] == [1, 1]
    show("scoop result", lambda: fs[1].result())
    show("scoop result again", lambda: fs[1].result())
    show("scoop map", lambda: list(futures.map(lookup, ["one", "seven", "one"])))
    show("scoop mapReduce", lambda: futures.mapReduce(lookup, max, ["one", "seven"]))
    # native
    native = treadle.Client((host, int(port)), output=None)
    show("native result", lambda: native.submit(lookup, "seven").result())
    show("native gather", lambda: native.gather([native.submit(lookup, k) for k in ("one", "seven")]))
    show("native map", lambda: list(native.map(lookup, ["one", "seven", "one"])))
    # HyperLoom
    loom = LoomClient(host, int(port))
    healthy, failing = loom.submit([loom_lookup(tasks.const("one")), loom_lookup(tasks.const("seven"))])
    show("loom gather", lambda: loom.gather([healthy, failing]))
    show("loom future gather", lambda: failing.gather())
    assert healthy.gather() == b"1"
    # IPython
    tc = ipython.TaskClient((host, int(port)))
    ids = [tc.run(ipython.Task("a = {'one': 1}[%r]" % key, pull="a")) for key in ("one", "seven", "one")]
    tc.barrier(ids)
    assert tc.get_task_result(ids[0]).results == {"a": 1}
    show("ipython raise_exception", lambda: tc.get_task_result(ids[1]).raise_exception())
    show("ipython raise_exception again", lambda: tc.get_task_result(ids[1]).raise_exception())
    mec = ipython.MultiEngineClient((host, int(port)))
    show("ipython execute", lambda: mec.execute("{'one': 1}['seven']"))
    # Rain: its TaskException, whose message carries the task's traceback
    with rain.Client(host, int(port)).new_session() as session:
        healthy, failing = rain_lookup("one"), rain_lookup("seven")
        healthy.output.keep()
        failing.output.keep()
        session.submit()
        show("rain fetch", lambda: failing.output.fetch())
        show("rain wait_all again", lambda: session.wait_all())
    print("=== uncaught", file=sys.stderr, flush=True)
    futures.submit(lookup, "seven").result()
