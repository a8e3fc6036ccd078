"""Run by tests/e2e/test_scoop_lambda_first.py under ``python3 -m treadle.scoop -n 2``: a
program function running on one worker (so its executor imported the program, and pickles the
program's classes by reference to it) sends objects of the program's class to a lambda. Both
lambdas wait for each other, so one runs on the other worker, whose executor has run nothing
but that lambda: it unpickles the objects all the same. Prints "=== name: ok ..." or
"=== name: FAILED" and the traceback."""

import os
import sys
import tempfile
import traceback

from treadle.scoop import futures


class Point:
    def __init__(self, x):
        self.x = x


def fan_out(folder):
    def meet(x):
        # Here once per executor: both lambdas run at once, so on both workers.
        import os
        import time
        open(os.path.join(folder, str(os.getpid())), "w").close()
        deadline = time.monotonic() + 30
        while len(os.listdir(folder)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        return x, len(os.listdir(folder))
    return list(futures.map(lambda p: meet(p.x), [Point(1), Point(2)]))


def check(name, run):
    try:
        print("=== {}: ok {}".format(name, run()), file=sys.stderr)
    except Exception:
        print("=== {}: FAILED".format(name), file=sys.stderr)
        traceback.print_exc()


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as meeting:
        check("lambda first", lambda: futures.submit(fan_out, meeting).result())
