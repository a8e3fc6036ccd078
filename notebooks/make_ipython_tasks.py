"""Writes ipython_tasks.ipynb from the cells below (keeps the notebook reviewable as code).

The notebook runs under the treadle kernel ("Python 3 (treadle)"): run `python3
make_ipython_tasks.py` here, then open it in Jupyter or execute it with nbclient."""
import os

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = [
    new_markdown_cell("""# IPython's task interface on treadle

Code written for IPython's task farming (`from IPython.kernel import client`) runs on treadle
after changing its import line. The **engines** are the Python executors of the workers, one per
cpu; each keeps its namespace between tasks. docs/ipython.md maps every name.

Two workers with two cpus each make four engines:"""),
    new_code_cell("""%treadle workers 2 --cpus 2"""),
    new_markdown_cell("""## Set the engines up, as ipyparallel's `%%px` does

`%%treadle px` runs a cell on every engine (or on `--targets 0,2`); what each prints is marked
with its engine."""),
    new_code_cell("""%%treadle px
import math
import os
print("ready in process", os.getpid())"""),
    new_markdown_cell("""## Farm out tasks

A `Task` is a code string; `pull` names what comes back. Inside this kernel
`client.default_task_address` is the kernel's own server."""),
    new_code_cell("""from treadle.ipython import client

tc = client.TaskClient(client.default_task_address)
tasklist = [client.Task("a = math.sqrt(%i)" % n, pull="a") for n in range(100)]
taskids = [tc.run(t) for t in tasklist]
tc.barrier(taskids)
task_results = [tc.get_task_result(taskid) for taskid in taskids]
tr = task_results[49]
tr"""),
    new_code_cell("""tr.ns.a, tr.engineid, tr.submitted, round(tr.duration, 3)"""),
    new_code_cell("""tc.queue_status()"""),
    new_markdown_cell("""## Failures, retries and recovery

`retries` runs a failing task again; when they are spent, `recovery_task` runs instead."""),
    new_code_cell("""t = client.Task("a = 1 / 0", retries=2, recovery_task=client.Task("a = float('inf')", pull="a"))
r = tc.get_task_result(tc.run(t), block=True)
r, r.attempts, r.recovered_by"""),
    new_markdown_cell("""## Dependencies on engine properties

`depend` is a function of an engine's properties; a `MultiEngineClient` sets them. A task no
engine satisfies waits, and runs as soon as one does."""),
    new_code_cell("""mec = client.MultiEngineClient(client.default_task_address)
mec.get_ids()"""),
    new_code_cell("""big = tc.run(client.Task("a = 'a big machine'", pull="a", depend=lambda p: p.get("RAM", 0) > 2**32))
tc.get_task_result(big) is None"""),
    new_code_cell("""mec.set_properties({"RAM": 2**34}, targets=mec.get_ids()[-1])
r = tc.get_task_result(big, block=True)
r, r.engineid"""),
    new_code_cell("""mec.reset()
mec.clear_properties()"""),
]

nb = new_notebook(cells=cells, metadata={
    "kernelspec": {"name": "treadle", "display_name": "Python 3 (treadle)", "language": "python"},
    "language_info": {"name": "python"},
})
nbformat.write(nb, os.path.join(os.path.dirname(os.path.abspath(__file__)), "ipython_tasks.ipynb"))
