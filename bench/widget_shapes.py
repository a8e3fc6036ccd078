"""Synthetic task graphs and traces of chosen sizes, for the widget benchmarks
(widgets_bench.py) and the widget tests: the shapes are the same, the timing is bench's."""

import random

from treadle.widgets.graph import TaskGraph


def chain_graph(n_maps=5, groups=("map", "reduce")):
    """n_maps map tasks feeding one reduce."""
    g = TaskGraph()
    for i in range(n_maps):
        g.add(str(i), "{}:{}".format(groups[0], i), "loom/py/call", i, None)
    r = g.add(str(n_maps), groups[1], "loom/py/call", n_maps, None)
    g.inputs[r] = list(range(n_maps))
    return g


def big_graph(n=100_000, chunk=1000):
    """HyperLoom's shape of the browser test: n consts, merged by chunk, merged again."""
    g = TaskGraph()
    for i in range(n):
        g.add(str(i), "", "loom/data/const", i, None)
    for c in range(n // chunk):
        j = g.add(str(n + c), "", "loom/data/merge", n + c, None)
        g.inputs[j] = list(range(c * chunk, (c + 1) * chunk))
    r = g.add(str(n + n // chunk), "root", "loom/data/merge", n + n // chunk, None)
    g.inputs[r] = list(range(n, n + n // chunk))
    return g


def trace_events(n, workers=4, lanes=3, groups=("map", "reduce"), transfers=0, seed=1):
    """A trace (``client.trace()``'s form) of n tasks on workers x lanes, and transfers."""
    rng = random.Random(seed)
    clock = {}
    events = []
    for i in range(n):
        key = (i % workers, (i // workers) % lanes)
        start = clock.get(key, 1_000_000) + rng.randint(0, 40)
        end = start + rng.randint(5, 400)
        clock[key] = end
        events.append({"kind": "task", "worker": key[0], "lane": key[1], "task": i, "start_us": start, "end_us": end,
                       "size": 8, "label": "{}:{}".format(groups[i % len(groups)], i), "type": "loom/py/call"})
    for i in range(transfers):
        start = 1_000_000 + rng.randint(0, 100_000)
        events.append({"kind": "transfer", "worker": i % workers, "from": (i + 1) % workers, "object": i, "size": 10,
                       "start_us": start, "end_us": start + 50})
    events.append({"kind": "worker_joined", "worker": 0, "name": "w0", "start_us": 999_000, "end_us": 999_000})
    events.append({"kind": "decision", "worker": 0, "start_us": 1_000_000, "end_us": 1_000_000})   # not drawn
    return {"workers": [{"id": w, "name": "w{}".format(w)} for w in range(workers)], "events": events}
