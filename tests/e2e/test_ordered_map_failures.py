"""An ordered ``treadle.map`` that meets a failure behaves as the built-in ``map``
(docs/python-tasks.md): it yields every result before the first failing item, then raises
exactly that item's exception, even when a later item failed first or the failure is in a
later window.

A plain script against a real local cluster (2 workers, 1 cpu each), as a user runs it; the
script compares with the built-in map over the same items."""

import json
import textwrap

from tests.conftest import run_script

SCRIPT = textwrap.dedent("""
    import json, time, treadle

    class BadRecord(Exception):
        pass

    def slow(x):
        time.sleep(0.05 if x != 10 else 0.5)     # item 10 fails last, after 17
        if x % 7 == 3:
            raise BadRecord(x)
        return x

    def parse(x):
        if x % 7 == 3:
            raise BadRecord(x)
        return x

    def run(mapper, fn, items, **kwargs):
        got = []
        try:
            for value in mapper(fn, items, **kwargs):
                got.append(value)
        except BadRecord as error:
            return got, list(error.args)
        return got, None

    if __name__ == "__main__":
        timed = [1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]
        cases = [("timed", slow, timed, {}), ("timed window 3", slow, timed, {"window": 3}),
                 ("plain", parse, list(range(30)), {}), ("plain window 4", parse, list(range(30)), {"window": 4})]
        shown = {}
        with treadle.local_cluster(workers=2, cpus=1) as cluster:
            treadle.Client(cluster.address, output=None)
            for name, fn, items, kwargs in cases:
                shown[name] = {"treadle": run(treadle.map, fn, items, **kwargs), "builtin": run(map, fn, items)}
        print(json.dumps(shown))
""")


def test_an_ordered_map_yields_up_to_the_first_failing_item_then_raises_its_failure():
    done = run_script(SCRIPT, timeout=120)
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout.strip().splitlines()[-1])
    assert shown["timed"]["builtin"] == [[1, 2, 4, 5, 6, 8, 9], [10]]
    assert shown["plain"]["builtin"] == [[0, 1, 2], [3]]
    for name, results in shown.items():
        assert results["treadle"] == results["builtin"], (name, results)
