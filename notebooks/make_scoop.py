"""Writes scoop.ipynb from the cells below (keeps the notebook reviewable as code).

The notebook runs under the treadle kernel ("Python 3 (treadle)"): run `python3 make_scoop.py`
here, then open it in Jupyter or execute it with nbclient."""
import os

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = [
    new_markdown_cell("""# SCOOP's futures on treadle

Programs written for SCOOP (`from scoop import futures, shared`) run on treadle after changing
their import line; `python3 -m treadle.scoop program.py` starts them as `python -m scoop` does.
In this notebook the futures run on the kernel's own workers. docs/scoop.md maps every name.

Two workers with one cpu each:"""),
    new_code_cell("""%treadle workers 2 --cpus 1"""),
    new_code_cell("""import operator
import random
from functools import reduce

import treadle
from treadle import scoop
from treadle.scoop import futures, shared"""),
    new_markdown_cell("""## `futures.map`: the parallel `map`

Every call is submitted at once; the results come back in the order of the inputs, as the
built-in `map`'s do."""),
    new_code_cell("""data = [random.randint(-1000, 1000) for r in range(1000)]
dataSerial = list(map(abs, data))
dataParallel = list(futures.map(abs, data))
assert dataSerial == dataParallel
dataParallel[:10]"""),
    new_markdown_cell("""## `submit`, `as_completed` and a failing future among healthy ones

`submit` returns a PEP 3148 future. A future whose call raises fails alone: the others still give
their results, and `result()` raises the call's own exception where it is asked for."""),
    new_code_cell("""def slow_inverse(x):
    import time
    time.sleep(0.05 * x)
    return 1 / x

fs = [futures.submit(slow_inverse, x) for x in [3, 2, 0, 1, 4]]
for f in futures.as_completed(fs):
    error = f.exception()
    print("failed:" if error else "done:  ", repr(error) if error else f.result())"""),
    new_code_cell("""try:
    fs[2].result()
except ZeroDivisionError as e:
    print("the third future raised", type(e).__name__, e)
[f.done() for f in fs]"""),
    new_markdown_cell("""`treadle.show` draws SCOOP futures as it draws native ones (their results taken, they are
released on the server)."""),
    new_code_cell("""treadle.show(fs)"""),
    new_markdown_cell("""## `mapReduce`: a binary reduction tree

`mapReduce(map_fn, reduce_fn, data)` maps, then reduces neighbours pairwise level by level:
for an associative `reduce_fn` it gives `functools.reduce`'s answer. The graph shows the tree."""),
    new_code_cell("""serialSum = reduce(operator.add, map(abs, data[:64]))
parallelSum = futures.mapReduce(abs, operator.add, data[:64])
assert serialSum == parallelSum
parallelSum"""),
    new_markdown_cell("""`%treadle graph` draws what the last cell submitted: 64 `abs` calls, then 6 levels of `add`."""),
    new_code_cell("""%treadle graph"""),
    new_markdown_cell("""## Futures that submit futures: a recursive tree

A future may submit futures and wait for them (it gives its cpu back while it waits), so whole
recursive trees run on two cpus, as SCOOP's `fullTree.py` example builds them."""),
    new_code_cell("""def tree_sum(depth):
    \"\"\"The number of leaves of a binary tree of ``depth`` levels, each node a future.\"\"\"
    if depth == 0:
        return 1
    left, right = futures.submit(tree_sum, depth - 1), futures.submit(tree_sum, depth - 1)
    return left.result() + right.result()

root = futures.submit(tree_sum, 5)
root.result()"""),
    new_markdown_cell("""The trace of that run: which worker ran which of the 63 futures, and when (a future waiting
for its children gives its cpu to them)."""),
    new_code_cell("""%treadle trace --last"""),
    new_markdown_cell("""## Constants shared with every worker

`shared.setConst` defines a constant once for the whole pool (a second definition of the same name
is an error); `shared.getConst` reads it inside the futures."""),
    new_code_cell("""def add_offset(x):
    return x + shared.getConst("offset")

shared.setConst(offset=100)
list(futures.map(add_offset, range(10)))"""),
    new_code_cell("""try:
    shared.setConst(offset=1)
except shared.ConstantRedefinedError as e:
    print(e)"""),
    new_markdown_cell("""`scoop.worker` names the worker a function runs on; `scoop.logger` writes lines with the time,
the worker and the module:"""),
    new_code_cell("""def where(_):
    return scoop.worker

sorted(set(futures.map(where, range(20))))"""),
    new_code_cell("""%treadle workers --stop"""),
]

nb = new_notebook(cells=cells, metadata={
    "kernelspec": {"name": "treadle", "display_name": "Python 3 (treadle)", "language": "python"},
    "language_info": {"name": "python"},
})
nbformat.write(nb, os.path.join(os.path.dirname(os.path.abspath(__file__)), "scoop.ipynb"))
