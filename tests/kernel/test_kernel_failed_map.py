"""A map whose task fails, in a notebook: the cell raises the task's exception, and the tasks
not read yet are cancelled and their results freed at once. (IPython keeps the traceback, and
with it the map's frame and its futures, until another cell raises: they must not hold the
tasks.) The treadle kernel and ipykernel with %load_ext treadle; the native map and SCOOP's."""

import pytest

from conftest import errors, text

DEFINE = ("import time, treadle\n"
          "from treadle.scoop import futures\n"
          "def f(x):\n"
          "    time.sleep(0.1)\n"
          "    if x == 10:\n"
          "        raise ValueError('ten')\n"
          "    return 'r' * 200000\n")

# Waits (in the kernel) until no task of the cluster is live and `done` holds for the server's
# counts by state (or 20 s passed); then says how many tasks are held (finished, not released)
# and how many results the kernel still keeps in futures.
SETTLED = ("import gc\n"
           "c = treadle.default_client()\n"
           "deadline = time.monotonic() + 20\n"
           "while True:\n"
           "    s = c.status()['states']\n"
           "    live = sum(s[k] for k in ('assigned', 'running', 'ready', 'waiting'))\n"
           "    if (live == 0 and {done}) or time.monotonic() > deadline:\n"
           "        break\n"
           "    time.sleep(0.05)\n"
           "gc.collect()\n"
           "kept = sum(1 for o in gc.get_objects() if isinstance(o, (treadle.Future, futures.Future))\n"
           "           and o._value is not None)\n"
           "print('live', live, 'held', s['finished'], 'kept', kept)\n")


def settled(kernel, done):
    """(tasks live, tasks held, results kept in the kernel's futures), once settled."""
    reply, outputs, _ = kernel.run(SETTLED.format(done=done), timeout=60)
    assert reply["status"] == "ok" and not errors(outputs), outputs
    words = text(outputs).split()
    return int(words[1]), int(words[3]), int(words[5])


@pytest.mark.timeout(150)
@pytest.mark.parametrize("map_call", ["treadle.map", "futures.map"])
def test_a_failed_map_cancels_and_frees_the_rest(any_kernel, map_call):
    reply, outputs, _ = any_kernel.run(DEFINE)
    assert reply["status"] == "ok", outputs
    # What the cluster holds after a map that succeeds (the function, SCOOP's constants).
    reply, outputs, _ = any_kernel.run("len(list({}(f, range(4))))".format(map_call))
    assert reply["status"] == "ok", outputs
    live, baseline, _ = settled(any_kernel, "s['released'] >= 4")
    assert live == 0
    reply, outputs, _ = any_kernel.run("list({}(f, range(60)))".format(map_call), stop_on_error=False)
    assert reply["status"] == "error" and reply["ename"] == "ValueError", (reply, outputs)
    # The 49 tasks after the failing one are not left running, then holding 200 KB results
    # each, nor kept in futures by the traceback IPython keeps.
    assert settled(any_kernel, "s['finished'] <= {}".format(baseline)) == (0, baseline, 0)
