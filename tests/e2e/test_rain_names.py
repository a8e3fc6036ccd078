"""Rain's task names ("a/b/c", the guide's "Task names") group tasks by their first part in the
task graph, the trace (its widget and its Perfetto export) and the HTML report, as Rain's
dashboard grouped them: ``name=`` is the core task's label. Real server and workers."""

from tests.conftest import wait_until
from treadle import report, trace
from treadle.core import lineage
from treadle.rain.client import Client, blob, tasks
from treadle.widgets import gantt, graph, task_graph

NAMES = ["main_tasks/training/train1", "main_tasks/training/train1", "main_tasks/eval", "my-plain-name"]


def test_names_group_by_their_first_part_everywhere(make_cluster):
    cluster = make_cluster(workers=2, cpus=1)
    lineage.enable()   # plans are remembered, as the notebook does from its start
    client = Client(*cluster.address)
    try:
        with client.new_session(name="names") as session:
            named = [tasks.Sleep(blob(str(i)), 0.01, name=name) for i, name in enumerate(NAMES)]
            last = tasks.Concat(named, name="main_tasks/join")
            last.output.keep()
            session.submit()
            assert last.output.fetch().get_bytes() == b"0123"
            drawn = task_graph.collect(session)
        groups = dict(zip(drawn.labels, drawn.groups()))
        assert groups["main_tasks/training/train1"] == groups["main_tasks/join"] == "main_tasks"
        assert groups["my-plain-name"] == "my-plain-name"

        def events():
            found = [e for e in trace.events(client.core)["events"] if e.get("kind") == "task"
                     and e.get("label") in NAMES + ["main_tasks/join"]]
            return found if len(found) == len(NAMES) + 1 else None
        ran = wait_until(events, what="the named tasks in the trace")
        assert {e["label"] for e in ran} == set(NAMES) | {"main_tasks/join"}
        view = gantt.TraceView({"events": ran, "workers": []})
        assert sorted(view.groups) == ["main_tasks", "my-plain-name"]
        chrome = trace.chrome_trace({"events": ran, "workers": []})
        assert {e["cat"] for e in chrome["traceEvents"] if e.get("ph") == "X"} == {"main_tasks", "my-plain-name"}
        tasks_per_group = report.summarize(ran)[0]
        assert {g: v["tasks"] for g, v in tasks_per_group.items()} == {"main_tasks": 4, "my-plain-name": 1}
    finally:
        client.close()
    # drawn after its client closed: another client of the server answers for the states
    other = Client(*cluster.address)
    try:
        with other.new_session() as later:
            x = blob("x")
            x.keep()
            later.submit()
            x.fetch()
        states = graph.graph_view(session).states
        assert len(states) == len(NAMES) * 2 + 1 and set(states) <= {"finished", "released"}, states
    finally:
        other.close()
