"""Writes teaching_parallel.ipynb from the cells below (keeps the notebook reviewable as code).

The notebook runs under the treadle kernel ("Python 3 (treadle)"): run `python3 make_teaching.py`
here, then open it in Jupyter or execute it with nbclient."""
import os

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = [
    new_markdown_cell("""# Parallel Python in a notebook: a first lesson

This notebook runs on the **treadle kernel**: a Python kernel with a task scheduler built in.
You write ordinary Python functions; treadle runs them as **tasks** on **worker** processes, in
parallel, and brings the results back here.

Three ideas are enough for this lesson:

1. a *worker* is a process that runs tasks (one task per cpu at a time);
2. calling a task function returns a *future* at once: a promise of a result still being computed;
3. `future.result()` waits for the result.

## Start some workers

The `%treadle` magics control treadle from the notebook. Two workers, one cpu each:"""),
    new_code_cell("""%treadle workers 2 --cpus 1"""),
    new_code_cell("""%treadle status"""),
    new_markdown_cell("""## A parallel map: estimating π by throwing darts

Throw random darts at the unit square: the fraction that lands inside the quarter circle
x² + y² ≤ 1 tends to π/4. Each dart is independent, so the work splits into **chunks** that can
run at the same time, on different workers.

`@treadle.task` turns a function into a task function: calling it runs it on a worker."""),
    new_code_cell("""import random
import time

import treadle


@treadle.task
def darts_inside(seed, n):
    \"\"\"Throws n darts; returns how many land inside the quarter circle.\"\"\"
    rng = random.Random(seed)          # its own random stream: chunks do not repeat each other
    inside = 0
    for _ in range(n):
        x, y = rng.random(), rng.random()
        inside += x * x + y * y <= 1.0
    return inside


chunks, per_chunk = 8, 50_000
f = darts_inside(0, per_chunk)
print("a future:", f)
print("its result:", f.result(), "darts inside out of", per_chunk)"""),
    new_markdown_cell("""`treadle.map` calls the task function once per element, all chunks in parallel, and gives the
results back in order — like Python's own `map`."""),
    new_code_cell("""start = time.perf_counter()
inside = list(treadle.map(darts_inside, range(chunks), [per_chunk] * chunks))
elapsed = time.perf_counter() - start

pi = 4 * sum(inside) / (chunks * per_chunk)
print(f"{chunks} chunks of {per_chunk} darts in {elapsed:.2f} s: pi is about {pi:.4f}")"""),
    new_markdown_cell("""### The same map, with a progress line

`%%treadle submit` runs a cell that *builds* tasks, follows them with a live progress line, and
when they are done puts the **results** under the names the cell gave the futures. After this
cell, `inside` is a list of numbers, not of futures."""),
    new_code_cell("""%%treadle submit --name darts
inside = [darts_inside(seed, per_chunk) for seed in range(100, 100 + chunks)]"""),
    new_code_cell("""print("results:", inside)
print(f"pi is about {4 * sum(inside) / (chunks * per_chunk):.4f}")"""),
    new_markdown_cell("""**Try it:** double `chunks` and run the two cells again. Does the estimate get closer to
3.14159? Does the time double?

## A map-reduce: counting words

Counting the words of a long text splits the same way:

* **map**: each task counts the words of a few lines;
* **reduce**: one more task adds the partial counts together.

The reduce task takes the *futures* of the map tasks as its argument: treadle runs it once they
are done, and hands it their results. Nothing comes back to the notebook in between.

Our text is *The Zen of Python*, which Python carries in its `this` module (importing it
prints the text, too)."""),
    new_code_cell("""import codecs
import collections
import this

lines = codecs.decode(this.s, "rot13").splitlines()
print(len(lines), "lines, for example:", lines[2])"""),
    new_code_cell("""@treadle.task
def count_words(some_lines):
    counts = collections.Counter()
    for line in some_lines:
        for word in line.split():
            word = word.strip(".,;:!?*'\\"-").lower()
            if word:
                counts[word] += 1
    print(f"counted {sum(counts.values())} words in {len(some_lines)} lines")
    return counts


@treadle.task
def add_counts(partial_counts):
    total = collections.Counter()
    for counts in partial_counts:
        total.update(counts)
    return total


pieces = [lines[i::4] for i in range(4)]             # 4 pieces of the text
partial = [count_words(piece) for piece in pieces]   # map: 4 tasks
total = add_counts(partial)                          # reduce: waits for the 4, on a worker
total.result().most_common(8)"""),
    new_markdown_cell("""Each line printed above came from a task, on a worker: treadle shows what tasks print in the
cell that started them, marked with the task.

**Try it:** how often does the word "better" appear? (`total.result()["better"]`)"""),
    new_markdown_cell("""## Seeing the work: the task graph and the trace

A parallel program is easier to reason about when you can *see* it. treadle draws two pictures:

* the **task graph**: one box per task, an arrow from each task to the tasks that use its result;
  boxes of the same *label group* (the label's text before the first `:`) share a colour, and the
  border and shade say where each task is: pale and dashed while it waits, dark and thick while it
  runs, solid when it is done, red if it failed;
* the **trace**: a timeline with one row per worker lane, a bar per task, coloured like the graph.
  The slider below it replays the run: drag it back to the start and press ▶.

Here is a small map-reduce again, with labels: eight `square` tasks, then one `total` that adds
their results. `treadle.show` draws the graph at once and recolours it while the tasks run (watch
the boxes fill in); hover over a box for its details."""),
    new_code_cell("""@treadle.task(label="square")
def slow_square(x):
    time.sleep(0.3)                      # slow enough to watch
    return x * x


@treadle.task(label="total")
def add_up(numbers):
    return sum(numbers)


squares = [slow_square(i) for i in range(8)]
answer = add_up(squares)
treadle.show(answer)"""),
    new_markdown_cell("""`answer.result()` waits for the end. `%treadle graph answer` draws the same graph again, now
with every box done (`%treadle graph` alone draws what the last cell submitted)."""),
    new_code_cell("""print("the sum of the first eight squares:", answer.result())
%treadle graph answer"""),
    new_markdown_cell("""Now the trace of that run (`--last`: the time of the last submission only). Which worker ran
which square? Did the `total` task start before every square had finished?"""),
    new_code_cell("""%treadle trace --last"""),
    new_markdown_cell("""**Try it:** make the map wider (`range(32)`) or start more workers, run the cells again, and
compare the traces: how many bars run side by side?

## A whole cell as a task

`%%treadle task` sends the *entire cell* to a worker. `--push` sends variables from this notebook
with it; `--pull` brings variables it makes back. Here the worker computes the statistics of a
list made in the notebook."""),
    new_code_cell("""measurements = [random.gauss(20.0, 2.5) for _ in range(10_000)]"""),
    new_code_cell("""%%treadle task --push measurements --pull mean,spread
import os
import statistics

mean = statistics.fmean(measurements)
spread = statistics.stdev(measurements)
print(f"worker process {os.getpid()} summarised {len(measurements)} measurements")"""),
    new_code_cell("""import os

print(f"back in the notebook (process {os.getpid()}): mean {mean:.2f}, spread {spread:.2f}")"""),
    new_markdown_cell("""With `--no-wait` the cell returns a future at once, and the notebook stays free while the
worker computes:"""),
    new_code_cell("""%%treadle task --no-wait
sum(i * i for i in range(1_000_000))"""),
    new_code_cell("""future = _
print("done yet?", future.done())
print("the sum of squares below a million:", future.result())"""),
    new_markdown_cell("""## Cleaning up

`%treadle status` shows what the workers did; `%treadle workers --stop` stops them (the kernel
also stops them when it shuts down). `%treadle?` lists every magic."""),
    new_code_cell("""%treadle status"""),
    new_code_cell("""%treadle workers --stop"""),
]

nb = new_notebook(cells=cells, metadata={
    "kernelspec": {"name": "treadle", "display_name": "Python 3 (treadle)", "language": "python"},
    "language_info": {"name": "python"},
})
nbformat.write(nb, os.path.join(os.path.dirname(os.path.abspath(__file__)), "teaching_parallel.ipynb"))
