"""Writes rain_tour.ipynb from the cells below (keeps the notebook reviewable as code)."""
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = [
    new_markdown_cell("""# Rain on treadle: a tour

[Rain](https://github.com/substantic/rain)'s user's guide, run on treadle. Rain code runs after
changing its import line: `from rain.client import ...` becomes `from treadle.rain.client import ...`
(docs/rain.md says what is there so far). The graph and the trace widgets draw Rain's sessions,
tasks and data objects as they draw treadle's own futures.

Rain's client connects to a server by host and port; here, a server and two workers on this
machine."""),
    new_code_cell("""import treadle
from treadle.rain.client import Client, Output, TaskException, blob, pickled, remote, tasks

cluster = treadle.local_cluster(workers=2, cpus=1)
client = Client(*cluster.address)          # Rain: Client("localhost", 7210)
client.get_server_info()"""),
    new_markdown_cell("""## Task definition and submission

A graph is first defined, then submitted: nothing runs while `blob` and `tasks.Concat` build
it. `keep()` asks the server to keep an object for the client, `fetch()` downloads it (and
waits for it). `treadle.show` draws a session: every task it submitted."""),
    new_code_cell("""with client.new_session(name="hello") as session:
    a = blob("Hello ")
    b = blob("world!")
    t = tasks.Concat((a, b))
    t.output.keep()
    session.submit()
    print(t.output.fetch().get_bytes())     # b'Hello world!'
    treadle.show(session)"""),
    new_markdown_cell("""## Sessions in interactive mode, and task chains

A *default* session is used whenever no `with` block names one: handy in a notebook. A task's
output is the input of the next: `tasks.Sleep(b, 0.5)` hands on `b` after half a second. The
graph is drawn at once and recoloured while the tasks run."""),
    new_code_cell("""session = client.new_session(name="interactive", default=True)
a = blob("Hello ")
b = blob("world!")
t1 = tasks.Sleep(b, 0.5)
t2 = tasks.Concat((a, t1))      # a one-output task stands for its output
t2.output.keep()
session.submit()
treadle.show(t2)
print(t2.output.fetch().get_bytes())"""),
    new_markdown_cell("""## Constant objects and content types

`blob` makes a constant object: bytes as they are, a `str` as `text`, and any value with
`encode=` ("json", "pickle", ...). A fetched `DataInstance` has its bytes (`get_bytes()`) and
its content type, which `load()` decodes."""),
    new_code_cell("""constants = [blob(b"Raw data", label="input data"),
             blob("String data"),
             blob("[1, 2, 3, 4]", content_type="json"),
             blob([1, 2, 3, 4], encode="json"),
             pickled({"rain": "falls"})]
for c in constants:
    c.keep()
session.submit()
for c in constants:
    data = c.fetch()
    print(f"{c.label!r:13} {data.content_type!r:9} {data.get_bytes()[:24]!r:30}",
          data.load() if data.content_type else "(raw bytes: no load())")"""),
    new_markdown_cell("""## Python tasks with several outputs

`@remote` turns a function into a task; it gets a context first, then its arguments, with data
objects as `DataInstance`s (loaded with `auto_load=True`). `outputs=` names its outputs (a count,
labels, or `Output` objects with a content type); `task.outputs` is a list that also takes
labels."""),
    new_code_cell("""@remote(outputs=["words", "count"])
def split(ctx, text):
    words = text.get_bytes().split()
    return {"words": b",".join(words), "count": str(len(words))}

@remote(outputs=[Output("total", content_type="pickle"), Output("mean", content_type="json")], auto_load=True)
def stats(ctx, numbers):
    return sum(numbers), sum(numbers) / len(numbers)

parts = split(blob("it is a rainy day"))
numbers = stats(pickled([1, 2, 3, 6]))
summary = tasks.Concat((parts.outputs["count"], blob(" words: "), parts.outputs["words"]))
parts.keep_outputs()
numbers.keep_outputs()
summary.output.keep()
session.submit()
print([d.get_bytes() for d in parts.fetch_outputs()])
print([d.load() for d in numbers.fetch_outputs()])
print(summary.output.fetch().get_bytes())
treadle.show([summary, numbers])"""),
    new_markdown_cell("""## Names group tasks

A task's `name` may be structured by `/`: tasks group by its first part, with one colour in
the graph, the trace and the report (Rain's dashboard grouped them so). Many tasks may share
a name. The session's graph now holds everything this session ran."""),
    new_code_cell("""@remote()
def shout(ctx, word):
    return word.get_bytes().upper()

words = [blob(w) for w in "rain falls on the loom".split()]
slow = [tasks.Sleep(w, 0.2, name="forecast/wait") for w in words]
loud = [shout(s) for s in slow]
spaced = [tasks.Concat((x, blob(" ")), name="forecast/space") for x in loud]
headline = tasks.Concat(spaced, name="headline")
headline.output.keep()
session.submit()
treadle.show(session)
print(headline.output.fetch().get_bytes())"""),
    new_markdown_cell("""## A failing task fails its session only

When a task fails, its session fails: every later call on it raises the error that caused it.
Other sessions carry on. Here the failing task waits for its healthy inputs, so they finish
first; the graph shows it red, among its finished inputs."""),
    new_code_cell("""@remote()
def check(ctx, *readings):
    raise ValueError("the forecast said no rain")

with client.new_session(name="failing") as failing:
    readings = [tasks.Sleep(blob(str(i)), 0.1, name="readings/wait") for i in range(4)]
    verdict = check(*readings)
    failing.submit()
    try:
        failing.wait_all()
    except TaskException as error:
        cause = [line for line in error.error.splitlines() if line.startswith("ValueError")][0]
        print("the session failed:", str(error).splitlines()[0], "-", cause)
    treadle.show(failing)
    try:
        failing.submit()
    except TaskException:
        print("and it stays failed: every later call raises the same error")"""),
    new_code_cell("""with client.new_session(name="carries on") as other:
    t = tasks.Concat((blob("still "), blob("raining")))
    t.output.keep()
    other.submit()
    print(t.output.fetch().get_bytes())
print(headline.output.fetch().get_bytes())   # the default session's kept objects are still there"""),
    new_markdown_cell("""`%treadle status` counts the sessions of each Rain client of this kernel: open, failed and
closed ones (the table above it is the kernel's own server's)."""),
    new_code_cell("""%treadle status"""),
    new_markdown_cell("""## External programs: `tasks.Execute` and `Program`

`tasks.Execute` runs a program in a fresh directory on a worker. Its outputs are files it
writes there (`Output`, or a name in `output_paths`) and its standard output (`stdout=`); its
inputs are data objects mapped into that directory (`Input`, or a data object right in the
argument list) or given as standard input. A task with two outputs names them by label.
`Program` makes such a task from a template, once per input."""),
    new_code_cell("""from treadle.rain.client import Input, Program

with client.new_session(name="programs") as programs:
    data = blob("rain falls\\non the loom\\nand the rain stops\\n")
    # 'cat data | tee output1 > output2': two outputs, a file and standard output
    tee = tasks.Execute(["tee", Output("output1")], stdout="output2", stdin=data, name="programs/tee")
    count = tasks.Execute("wc -l", stdin=tee.outputs["output1"], stdout=True, name="programs/count")
    rain_grep = Program(["grep", "rain", Input("my_input", path="my_file")], stdout=True, name="programs/grep")
    found = rain_grep(my_input=tee.outputs["output2"])
    failing = tasks.Execute("ls no-such-file", stdout=True, name="programs/failing")
    count.keep_outputs()
    found.keep_outputs()
    programs.submit()
    print("lines:", count.output.fetch().get_bytes().decode().strip())
    print(found.output.fetch().get_bytes().decode())
    try:
        programs.wait_all()
    except TaskException as error:
        print("a program failed:", str(error).splitlines()[0] + ":", error.error.strip().splitlines()[0])
    treadle.show(programs)"""),
    new_markdown_cell("""## Directories

A data object may be a whole directory: `directory(path)` uploads one from here,
`MakeDirectory` builds one from data objects, `SliceDirectory` takes a file (or, with a final
`/`, a subdirectory) out of one, and `OutputDir` makes an `Execute`'s output directory an
object. Between workers a directory moves as one archive; `fetch().write(path)` unpacks it
here, `get_bytes()` gives the tar."""),
    new_code_cell("""import os, tempfile
from treadle.rain.client import InputDir, OutputDir, directory

here = tempfile.mkdtemp()
os.makedirs(os.path.join(here, "notes"))
with open(os.path.join(here, "notes", "forecast.txt"), "w") as f:
    f.write("rain on Tuesday\\n")

with client.new_session(name="directories") as dirs:
    d = directory(here)
    made = tasks.MakeDirectory(tasks.make_directory([
        ("readme.txt", blob("a directory made of data objects\\n")),
        ("inputs", d),
        ("a/deep/path/x", blob("67890")),
    ]), name="dirs/make")
    x = tasks.SliceDirectory(made, "a/deep/path/x", name="dirs/slice")
    listing = tasks.Execute("find tree -type f | sort", shell=True, input_paths=[InputDir("tree", dataobj=made.output)],
                            stdout=True, name="dirs/list")
    archive = tasks.Execute("mkdir out && cp tree/readme.txt out/ && date > out/when", shell=True,
                            input_paths=[InputDir("tree", dataobj=made.output)], output_paths=[OutputDir("out")],
                            name="dirs/program")
    for t in (x, listing, archive):
        t.keep_outputs()
    dirs.submit()
    print(x.output.fetch().get_bytes())
    print(listing.output.fetch().get_bytes().decode())
    target = tempfile.mkdtemp()
    archive.output.fetch().write(os.path.join(target, "out"))
    print(sorted(os.listdir(os.path.join(target, "out"))))
    treadle.show(dirs)"""),
    new_markdown_cell("""## What ran where

The trace of everything above: a lane per worker lane (quick tasks, programs and sleeps, each
Python process), tasks coloured by group, transfers between workers as arrows; the slider
replays the run."""),
    new_code_cell("""treadle.show_trace(client)"""),
    new_code_cell("""session.close()
client.close()
cluster.close()"""),
]

nb = new_notebook(cells=cells, metadata={
    "kernelspec": {"name": "treadle", "display_name": "Python 3 (treadle)", "language": "python"},
    "language_info": {"name": "python"},
})
nbformat.write(nb, "rain_tour.ipynb")
