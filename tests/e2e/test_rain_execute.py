"""Rain's Execute, Program and directories (treadle.rain.client) on real server and worker
processes: directories moved between workers, multi-output recovery after a worker is killed,
a failing program in a session, and bad graphs refused while they are built."""

import io
import signal
import tarfile

import pytest

from tests.conftest import assert_serving, wait_until
from treadle.loom.client import Client as LoomClient
from treadle.rain.client import (Client, Input, InputDir, Output, OutputDir, Program, RainException, TaskException,
                                 blob, directory, tasks)


def _serving(cluster, workers):
    loom = LoomClient(*cluster.address)
    assert_serving(loom, workers=workers)
    loom.close()


@pytest.mark.timeout(90)
def test_directories_made_on_one_worker_are_used_on_the_other(make_cluster):
    cluster = make_cluster(workers=2, cpus=1)
    client = Client(*cluster.address)
    with client.new_session() as session:
        # Two producers holding a cpu each run on the two 1-cpu workers: the consumer of both
        # fetches one directory from the other worker.
        made = [tasks.Execute("sleep 0.5 && mkdir -p out/sub && echo {0} > out/sub/f && echo top{0} > out/t".format(i),
                              shell=True, output_paths=[OutputDir("out")]) for i in range(2)]
        both = tasks.Execute("cat d0/sub/f d1/sub/f d0/t && ls -R d1 && test ! -w d0/t -o $(id -u) = 0", shell=True,
                             input_paths=[InputDir("d0", dataobj=made[0]), InputDir("d1", dataobj=made[1])],
                             stdout=True)
        merged = tasks.MakeDirectory([("first", made[0]), ("second", made[1]), ("note", blob("n"))])
        piece = tasks.SliceDirectory(merged, "second/sub/f")
        both.output.keep()
        piece.output.keep()
        merged.output.keep()
        session.submit()
        assert both.output.fetch().get_bytes() == b"0\n1\ntop0\nd1:\nsub\nt\n\nd1/sub:\nf\n"
        assert piece.output.fetch().get_bytes() == b"1\n"
        workers = {e["worker"] for e in client.core.trace()["events"] if e["kind"] == "task" and e["label"] == "sleep"}
        assert len(workers) == 2, "the two producers should run on both workers"
        assert [e for e in client.core.trace()["events"] if e["kind"] == "transfer"], "a directory moved"
        names = tarfile.open(fileobj=io.BytesIO(merged.output.fetch().get_bytes())).getnames()
        assert sorted(names) == ["first", "first/sub", "first/sub/f", "first/t", "note", "second", "second/sub",
                                 "second/sub/f", "second/t"]
    client.close()
    _serving(cluster, 2)


@pytest.mark.timeout(90)
def test_outputs_of_an_execute_on_a_killed_worker_are_recomputed(make_cluster, tmp_path):
    cluster = make_cluster(workers=1, cpus=1, server_args=["--worker-timeout", "1000"])
    client = Client(*cluster.address)
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "x").write_text("x\n")
    with client.new_session() as session:
        t = tasks.Execute("cat d/x words | tee copy && mkdir o && wc -w < words > o/count", shell=True,
                          input_paths=[Input("words", dataobj=blob("alpha beta gamma\n")),
                                       InputDir("d", dataobj=directory(str(tree)))],
                          output_paths=["copy", OutputDir("counted", path="o")], stdout="out")
        t.keep_outputs()
        session.submit()
        first = [d.get_bytes() for d in t.fetch_outputs()]
        assert first[0] == first[1] == b"x\nalpha beta gamma\n"
        # Only the first worker holds the outputs; a second joins, the first is killed.
        cluster.add_worker()
        cluster.wait_for_workers(2)
        victim = cluster.workers[0]
        victim.send_signal(signal.SIGKILL)
        victim.wait(5)
        wait_until(lambda: len(client.core.status()["workers"]) == 1, timeout=10, what="the server dropping the worker")
        again = [d.get_bytes() for d in t.fetch_outputs()]
        assert again == first
        runs = [e for e in client.core.trace()["events"] if e["kind"] == "task" and e.get("outputs") == 3]
        assert len(runs) == 2, "the three-output Execute ran once more"
    client.close()
    _serving(cluster, 1)


@pytest.mark.timeout(90)
def test_a_failing_program_fails_its_session_with_its_stderr(make_cluster):
    cluster = make_cluster(workers=2, cpus=1)
    client = Client(*cluster.address)
    other = client.new_session(name="other", default=True)  # used outside with-blocks
    kept = [tasks.Execute(["echo", str(i)], stdout=True) for i in range(10)]
    for t in kept:
        t.output.keep()
    other.submit()
    with client.new_session(name="failing") as session:
        healthy = [tasks.Execute(["echo", str(i)], stdout=True) for i in range(10)]
        for t in healthy:
            t.output.keep()
        bad = tasks.Execute("echo some output; echo the cause >&2; exit 3", shell=True, stdout=True)
        session.submit()
        with pytest.raises(TaskException, match="(?s)status 3.*the cause"):
            session.wait_all()
        with pytest.raises(TaskException, match="the cause"):
            healthy[0].output.fetch()
    assert [t.output.fetch().get_bytes() for t in kept] == [b"%d\n" % i for i in range(10)]
    other.close()
    assert bad.outputs.labels == ["stdout"]
    client.close()
    _serving(cluster, 2)


@pytest.mark.timeout(90)
def test_bad_graphs_are_clear_errors_and_lose_nothing(make_cluster, tmp_path):
    cluster = make_cluster(workers=2, cpus=1)
    client = Client(*cluster.address)
    (tmp_path / "d").mkdir()
    with client.new_session() as session:
        d = directory(str(tmp_path / "d"))
        b = blob(b"blob")
        good = tasks.Execute(["cat", b], stdout=True)
        good.output.keep()
        # wrong data types, found while the graph is built
        with pytest.raises(RainException, match="needs a blob but .* is a directory"):
            tasks.Execute(["cat"], input_paths=[Input("x", dataobj=d)])
        with pytest.raises(RainException, match="needs a directory but .* is a blob"):
            tasks.Execute(["ls"], input_paths=[InputDir("x", dataobj=b)])
        with pytest.raises(RainException, match="Concat needs a blob"):
            tasks.Concat([b, d])
        with pytest.raises(RainException, match="SliceDirectory needs a directory"):
            tasks.SliceDirectory(b, "x")
        with pytest.raises(RainException, match="stdin needs a blob"):
            tasks.Execute("cat", stdin=d)
        # .output of a task with two outputs (and with none)
        two = tasks.Execute("tee copy", stdin=b, stdout=True, output_paths=["copy"])
        with pytest.raises(RainException, match="2 outputs"):
            two.output
        with pytest.raises(RainException, match="0 outputs"):
            tasks.Execute("true").output
        # paths that leave the sandbox
        for path in ("../x", "/etc/passwd", "a/../../x"):
            with pytest.raises(RainException, match="relative path inside"):
                tasks.Execute(["cat", Input("x", path=path, dataobj=b)])
            with pytest.raises(RainException, match="relative path inside"):
                tasks.Execute("true", output_paths=[Output("x", path=path)])
            with pytest.raises(RainException, match="inside the directory"):
                tasks.MakeDirectory([(path, b)])
        with pytest.raises(RainException, match="needs content type 'json' but .* has 'text'"):
            tasks.Execute(["cat", Input("x", dataobj=blob("text"), content_type="json")])
        with pytest.raises(RainException, match="does not load them"):
            tasks.Execute(["cat", Input("x", dataobj=b, load=True)])
        with pytest.raises(RainException, match="used twice"):
            tasks.Execute(["cat", Input("x", dataobj=b)], input_paths=[Input("x", dataobj=b)])
        # Program mappings: missing, extra, a loop back at a slot, a slot both blob and directory
        grep = Program(["grep", "a", Input("text")], stdout=True)
        with pytest.raises(RainException, match="needs input 'text'"):
            grep()
        with pytest.raises(RainException, match="has no input 'other'"):
            grep(text=b, other=b)
        with pytest.raises(RainException, match="maps to .*Input.* not to a data object"):
            grep(text=Input("text"))
        with pytest.raises(RainException, match="not to a data object"):
            grep(text=grep)
        with pytest.raises(RainException, match="both as a blob and as a directory"):
            Program(["cat", Input("x")], input_paths=[InputDir("x", path="y")])
        with pytest.raises(RainException, match="a Program's Inputs name slots"):
            Program(["cat", Input("x", dataobj=b)])
        with pytest.raises(RainException, match="needs a blob but .* is a directory"):
            grep(text=d)
        # Nothing was lost: the session still runs what was built right.
        found = grep(text=blob(b"abc\nxyz\n"))
        found.output.keep()
        sort = Program("sort", stdin="lines", stdout=Output("sorted", content_type="text"))
        ordered = sort(lines=blob(b"b\na\n"))
        ordered.output.keep()
        cat = Program("cat x", stdout="out", input_paths=[Input("x")])
        shown = cat(x=blob(b"mapped by input_paths"))
        shown.outputs["out"].keep()
        session.submit()
        assert good.output.fetch().get_bytes() == b"blob"
        assert found.output.fetch().get_bytes() == b"abc\n"
        assert ordered.output.fetch().load() == "a\nb\n"
        assert shown.output.fetch().get_bytes() == b"mapped by input_paths"
    client.close()
    _serving(cluster, 2)
