"""Writes tour.ipynb from the cells below (keeps the notebook reviewable as code)."""
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = [
    new_markdown_cell("""# A tour of treadle

treadle runs **task graphs** — plans of tasks and the data they exchange — on worker processes.
This tour runs in the treadle kernel. It starts with the HyperLoom-compatible API
(`treadle.loom.client`): code written for HyperLoom runs after changing one import line.

First, a server and two workers on this machine. `local_cluster` starts them as real processes
and stops them when closed. (The kernel also has a server of its own: see `%treadle?`.)"""),
    new_code_cell("""import time
import treadle
from treadle.loom.client import Client, TaskFailed, tasks

cluster = treadle.local_cluster(workers=2, cpus=1)
client = Client(*cluster.address)
print("server at", cluster.address, "with", len(client.status()["workers"]), "workers")"""),
    new_markdown_cell("""## A plan, submitted

Tasks are built locally and cost nothing until submitted. `submit_one` returns a **future**:
`gather()` downloads its result and frees it on the workers."""),
    new_code_cell("""hello = tasks.const("Hello ")
world = tasks.const("world!")
greeting = tasks.merge((hello, world))
client.submit_one(greeting).gather()"""),
    new_code_cell("""futures = client.submit((tasks.const("a"), tasks.const("b"), tasks.merge((hello, world), delimiter="|")))
client.gather(futures)"""),
    new_markdown_cell("""## External programs

`tasks.run` runs a program in a fresh directory on a worker. Data objects can be its standard
input, files in that directory, or `$VARIABLES` in its arguments; its output is standard output
or the files it writes."""),
    new_code_cell("""text = tasks.const("treadle weaves\\nloom threads\\nshuttle\\n")
grep = tasks.run("grep -n e", stdin=text)
print(client.submit_one(grep).gather().decode())"""),
    new_code_cell("""a = tasks.const("first file\\n")
b = tasks.const("second file\\n")
cat = tasks.run("cat one two", [(a, "one"), (b, "two")])
both = tasks.run(("sh", "-c", "wc -l < one > count; echo done"), [(a, "one")], outputs=("count", None))
print(client.submit_one(cat).gather().decode())
print(client.submit_one(both).gather())"""),
    new_markdown_cell("""## Data with structure

`split` cuts an object into lines (an *index*: no copy), `get` and `slice` pick pieces,
`array_make` groups results."""),
    new_code_cell("""lines = tasks.split(text)
second = tasks.get(lines, 1)
first_two = tasks.slice(lines, 0, 2)
client.gather(client.submit((second, first_two, tasks.array_make((hello, world)))))"""),
    new_markdown_cell("""## Futures as inputs

A submitted future can feed later tasks: the work already done is reused, not recomputed."""),
    new_code_cell("""data = client.submit_one(tasks.run("seq 1 5"))
total = tasks.run(("sh", "-c", "paste -sd+ | bc"), stdin=data)
squares = tasks.run(("awk", "{print $1*$1}"), stdin=data)
print(client.gather(client.submit((total, squares))))
data.release()"""),
    new_markdown_cell("""## When a task fails

The exception names the task and carries the program's error output. The other tasks and the
server carry on."""),
    new_code_cell("""try:
    client.submit_one(tasks.run("ls /no/such/place")).wait()
except TaskFailed as error:
    print(error)"""),
    new_markdown_cell("""## Many tasks

Ten thousand tiny tasks, placed on both workers and gathered as one array."""),
    new_code_cell("""start = time.perf_counter()
numbers = client.submit_one(tasks.array_make([tasks.const(str(i)) for i in range(10_000)])).gather()
elapsed = time.perf_counter() - start
print(f"{len(numbers)} results in {elapsed:.2f} s ({elapsed / len(numbers) * 1e6:.0f} µs per task)")"""),
    new_markdown_cell("""## Python functions as tasks

treadle's own API: a decorated function returns a **future** when called. Futures can be
passed to other calls — also inside lists and dicts — and what a task prints shows up here,
marked with its task."""),
    new_code_cell("""treadle.set_default_client(treadle.Client(cluster))

@treadle.task
def word_count(text):
    print(f"counting {len(text)} characters")
    return len(text.split())

counts = [word_count(line) for line in ["to be or not to be", "that is the question"]]
total = treadle.submit(sum, counts)
total.result()"""),
    new_code_cell("""@treadle.task
def slow_square(x):
    time.sleep(0.2 if x == 0 else 0.05)   # the first one is slow
    return x * x

print("in order:      ", list(treadle.map(slow_square, range(2))))
print("as they finish:", [f.result() for f in treadle.as_completed([slow_square(x) for x in range(2)])])"""),
    new_markdown_cell("""HyperLoom's Python tasks work too, including **task redirection**: a task may return a new
task, which runs in its place."""),
    new_code_cell("""@tasks.py_task()
def bigger_one(a, b):
    data = a if a.size() > b.size() else b
    return tasks.run("wc -c", stdin=data)

client.submit_one(bigger_one(tasks.const("short"), tasks.const("a longer text"))).gather()"""),
    new_markdown_cell("""## Seeing the work

Labels name tasks for people: tasks whose labels share the text before the first `:` share a
colour (HyperLoom's rule). `treadle.show` draws the task graph behind futures, its colours
following the run live; `treadle.show_trace` draws what ran where and when, with a slider that
replays the run. Both stay readable in a saved notebook (they carry a static picture too)."""),
    new_code_cell("""pieces = [tasks.run(("sh", "-c", f"sleep 0.1; echo {i}")) for i in range(6)]
for i, piece in enumerate(pieces):
    piece.label = f"piece:{i}"
joined = tasks.merge(pieces)
joined.label = "join"
joined_future = client.submit_one(joined)
treadle.show(joined_future)"""),
    new_code_cell("""print(joined_future.gather().decode().split())
treadle.show(joined_future)      # the same graph, now every task done
treadle.show_trace(client)       # the server's recent events: every run of this tour"""),
    new_code_cell("""status = client.status()
print("tasks by state:", {k: v for k, v in status["states"].items() if v})
for w in status["workers"]:
    print(f"worker {w['name']}: {w['cpus']} cpu, {w['tasks_done']} tasks done")"""),
    new_code_cell("""treadle.default_client().close()
client.close()
cluster.close()"""),
]

nb = new_notebook(cells=cells, metadata={
    "kernelspec": {"name": "treadle", "display_name": "Python 3 (treadle)", "language": "python"},
    "language_info": {"name": "python"},
})
nbformat.write(nb, "tour.ipynb")
