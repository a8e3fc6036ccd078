"""The examples of Rain's user's guide on external programs, built-in tasks and directories,
with only the import line changed (`rain.client` -> `treadle.rain.client`), on a real server and
workers. Where an example needs the network (wget of github.com, git clone of Rain's
repository) a local equivalent stands in: an HTTP server of the test, a local git repository.
Where the guide's code is broken (an unbalanced parenthesis, the `outputs_paths` typo,
placeholder programs such as "a-program"), the smallest fix is made and said."""

import http.server
import os
import subprocess
import threading

import pytest

from tests.conftest import assert_serving, start_cluster
from treadle.loom.client import Client as LoomClient
from treadle.rain.client import (Client, Input, Output, OutputDir, Program, blob, directory, remote,  # noqa: F401
                                 tasks)


@pytest.fixture(scope="module")
def rain_cluster(tmp_path_factory):
    workdir = str(tmp_path_factory.mktemp("workers"))
    with start_cluster(workers=2, cpus=2, worker_args=["--workdir", workdir]) as cluster:
        yield cluster


@pytest.fixture
def client(rain_cluster):
    c = Client(*rain_cluster.address)
    yield c
    c.close()
    loom = LoomClient(*rain_cluster.address)
    assert_serving(loom, workers=2)
    loom.close()


@pytest.fixture
def web(tmp_path):
    """A local web server standing in for https://github.com/."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<html>rain</html>\n")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(site), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "http://127.0.0.1:{}/".format(server.server_address[1])
    server.shutdown()
    server.server_close()


@pytest.mark.timeout(60)
def test_more_outputs_tee(client):
    with client.new_session() as session:
        data = blob(b"rain data\n")
        # The following task creates two outputs labeled "output1" and "output2" with
        # an equivalent of 'cat data | tee output1 > output2'.
        t = tasks.Execute(["tee", Output("output1")], stdout="output2", stdin=data)
        t.outputs["output1"]  # Access to output "output1"
        t.outputs["output2"]  # Access to output "output2"
        t.keep_outputs()
        session.submit()
        assert [d.get_bytes() for d in t.fetch_outputs()] == [b"rain data\n", b"rain data\n"]


@pytest.mark.timeout(60)
def test_execute_sleep_three_ways(client):
    with client.new_session() as session:
        a = tasks.Execute("sleep 1")
        b = tasks.Execute(("sleep", "1"))
        c = tasks.Execute("sleep 1 && sleep 1", shell=True)
        session.submit()
        session.wait_all()
    assert len(a.outputs) == len(b.outputs) == len(c.outputs) == 0


@pytest.mark.timeout(60)
def test_wget_output_with_a_label_and_a_path(client, web):
    # Local web server instead of https://github.com/.
    with client.new_session() as session:
        t = tasks.Execute("wget " + web, output_paths=[Output("index", path="index.html")])
        t.output.keep()
        session.submit()
        result = t.output.fetch().get_bytes()
    assert result == b"<html>rain</html>\n"
    assert t.outputs.labels == ["index"]


@pytest.mark.timeout(60)
def test_wget_output_by_name_and_two_outputs(client, web):
    with client.new_session() as session:
        t = tasks.Execute("wget " + web, output_paths=["index.html"])
        # The guide writes `outputs_paths` here, a typo Rain itself would refuse.
        t2 = tasks.Execute("wget " + web + " --output-file log", output_paths=["index.html", "log"])
        t3 = tasks.Execute(["wget", web, "--output-file", Output("log")], output_paths=["index.html"])
        for task in (t, t2, t3):
            task.keep_outputs()
        session.submit()
        assert t.outputs.labels == ["index.html"]
        assert t.output.fetch().get_bytes() == b"<html>rain</html>\n"
        assert t2.outputs["index.html"].fetch().get_bytes() == b"<html>rain</html>\n"
        assert b"saved" in t2.outputs["log"].fetch().get_bytes()
        assert sorted(t3.outputs.labels) == ["index.html", "log"]
        assert b"saved" in t3.outputs["log"].fetch().get_bytes()


@pytest.mark.timeout(60)
def test_stdout_as_true_label_and_output(client):
    with client.new_session() as session:
        # Creates output from stdout labelled "stdout"
        a = tasks.Execute("ls /", stdout=True)
        # Creates output from stdout with label "my_label"
        b = tasks.Execute("ls /", stdout="my_label")
        # Creates output through Output object, argument 'path' is not allowed
        c = tasks.Execute("ls /", stdout=Output("my_label"))
        for t in (a, b, c):
            t.output.keep()
        session.submit()
        listing = a.output.fetch().get_bytes()
        assert b"etc\n" in listing
        assert b.output.fetch().get_bytes() == listing == c.output.fetch().get_bytes()
    assert (a.outputs.labels, b.outputs.labels, c.outputs.labels) == (["stdout"], ["my_label"], ["my_label"])


@pytest.mark.timeout(60)
def test_grep_a_data_object_given_as_an_argument(client):
    with client.new_session() as session:
        data = blob(b"It is\nrainy day\n")
        # Maps 'data' into file XXX where is a random name and executes
        # "grep rain XXX"
        task = tasks.Execute(["grep", "rain", data], stdout=True)
        task.output.keep()
        session.submit()
        assert task.output.fetch().get_bytes() == b"rainy day\n"


@pytest.mark.timeout(60)
def test_input_in_arguments_in_input_paths_and_stdin(client):
    # "a-program" of the guide is a placeholder: cat (which prints its files) stands in.
    with client.new_session() as session:
        my_data = blob(b"my data\n")  # A data object
        task = tasks.Execute(["cat", "-", Input("my_label", path="myfile", dataobj=my_data)], stdin=blob(b"arg1\n"),
                             stdout=True)
        task2 = tasks.Execute(["cat", "myfile"], input_paths=[Input("my_label", path="myfile", dataobj=my_data)],
                              stdout=True)
        task3 = tasks.Execute(["cat", "-"], stdin=my_data, stdout=True)
        for t in (task, task2, task3):
            t.output.keep()
        session.submit()
        assert task.output.fetch().get_bytes() == b"arg1\nmy data\n"
        assert task2.output.fetch().get_bytes() == b"my data\n"
        assert task3.output.fetch().get_bytes() == b"my data\n"


@pytest.mark.timeout(60)
def test_program_factory_rain_grep(client):
    rain_grep = Program(["grep", "rain", Input("my_input", path="my_file")], stdout=True)
    with client.new_session() as session:
        data = blob(b"It is\nrainy day\n")
        # Creates a task that executes "grep rain my_file" where dataobject in variable
        # 'data' is mapped into
        task = rain_grep(my_input=data)
        task.output.keep()
        session.submit()
        assert task.output.fetch().get_bytes() == b"rainy day\n"


@pytest.mark.timeout(60)
def test_four_built_in_tasks(client, tmp_path):
    (tmp_path / "data").write_bytes(b"file data, ")
    path_to_data, path_to_result = str(tmp_path / "data"), str(tmp_path / "result")  # "/path/to/..." of the guide
    with client.new_session() as session:
        # Create tasks opening an external file
        data1 = tasks.Load(path_to_data)
        # Create a constant object
        data2 = blob("constant data")
        # Merge two objects
        merge = tasks.Concat((data1, data2))
        # Sleep for 1s
        result = tasks.Sleep(merge, 1.0)
        # Write result into file
        tasks.Store(result, path_to_result)
        session.submit()
        session.wait_all()
    assert (tmp_path / "result").read_bytes() == b"file data, constant data"


def _local_rain_repository(tmp_path):
    """A git repository standing in for https://github.com/substantic/rain."""
    repo = tmp_path / "rain-origin"
    repo.mkdir()
    (repo / "README.md").write_text("Rain\n")
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@t")
    for command in (["git", "init", "-q"], ["git", "add", "README.md"], ["git", "commit", "-q", "-m", "start"]):
        subprocess.run(command, cwd=str(repo), check=True, env=env)
    return "file://" + str(repo)


@pytest.mark.timeout(60)
def test_directories(client, tmp_path):
    path_to_dir = tmp_path / "dir"  # "/path/to/dir" of the guide
    (path_to_dir / "nested").mkdir(parents=True)
    (path_to_dir / "top.txt").write_text("top")
    (path_to_dir / "nested" / "inner.txt").write_text("inner")
    origin = _local_rain_repository(tmp_path)
    with client.new_session() as session:
        # Creates a directory object from client's local file system
        # Recursively collects all files and directories in /path/to/dir
        d = directory(str(path_to_dir))
        # Create blob data objects
        data1 = blob(b"12345")
        data2 = blob(b"67890")
        # Task that creates a directory from data objects
        # (the guide's line lacks a closing parenthesis)
        d2 = tasks.MakeDirectory(tasks.make_directory([
            ("myfile.txt", data1),     # Map 'data1' as file 'myfile.txt' into directory
            ("adir", d),               # Map directory 'd' as subdir named 'adir'
            ("a/deep/path/x", data2),  # Map 'data2' as a file 'x'; all subdirs on path is created
        ]))
        # Task taking a file from a directory data object
        d3 = tasks.SliceDirectory(d2, "a/deep/path/x")
        d3.output.keep()
        file_slice = d3
        # Task taking a directory from a directory data object
        # This is indicated by '/' at the end of the path.
        d3 = tasks.SliceDirectory(d2, "a/deep/")
        d3.output.keep()
        # Taking directory as outpout of task.execute (a local repository instead of GitHub)
        clone = tasks.Execute("git clone " + origin + " rain", output_paths=[OutputDir("rain")])
        clone.output.keep()
        d2.output.keep()
        session.submit()
        assert file_slice.output.fetch().get_bytes() == b"67890"
        deep = d3.output.fetch()
        deep.write(str(tmp_path / "deep"))
        assert (tmp_path / "deep" / "path" / "x").read_bytes() == b"67890"
        whole = d2.output.fetch()
        whole.write(str(tmp_path / "whole"))
        assert (tmp_path / "whole" / "adir" / "nested" / "inner.txt").read_text() == "inner"
        assert (tmp_path / "whole" / "myfile.txt").read_text() == "12345"
        repo = clone.output.fetch()
        repo.write(str(tmp_path / "clone"))
        assert (tmp_path / "clone" / "README.md").read_text() == "Rain\n"
        assert (tmp_path / "clone" / ".git").is_dir()


@pytest.mark.timeout(60)
def test_link_and_write_mappings(client):
    with client.new_session() as session:
        obj = blob(b"first line\n")
        # This is ok. Writable copy of 'obj' is created.
        written = tasks.Execute("echo 'New line' >> myfile", shell=True,
                                input_paths=[Input("myfile", dataobj=obj, write=True)])
        # What the two mappings look like, and that the object itself never changes.
        modes = tasks.Execute("stat -c %a myfile", shell=True, input_paths=[Input("myfile", dataobj=obj)],
                              stdout=True)
        check = tasks.Execute("cat myfile && echo 'New line' >> myfile && cat myfile", shell=True,
                              input_paths=[Input("myfile", dataobj=obj, write=True)], stdout=True)
        modes.output.keep()
        check.output.keep()
        obj.keep()
        session.submit()
        assert modes.output.fetch().get_bytes() == b"444\n"
        assert check.output.fetch().get_bytes() == b"first line\nfirst line\nNew line\n"
        written.wait()
        assert obj.fetch().get_bytes() == b"first line\n"
    with client.new_session() as session:
        obj = blob(b"first line\n")
        # THIS IS INVALID! You cannot modified linked objects
        linked = tasks.Execute("echo 'New line' >> myfile", shell=True,
                               input_paths=[Input("myfile", dataobj=obj)])
        session.submit()
        # It fails as a non-root program should (the file is read-only); root may write anyway.
        if os.getuid() != 0:
            with pytest.raises(Exception, match="Permission denied"):
                linked.wait()
        else:
            linked.wait()


@remote()
def my_remote_function(ctx, input1):
    input1.write("myfile")   # Writes data into 'myfile' that can be edited
    # without change of the original object
    input1.link("myfile2")   # Creates a read-only file system representation
    # of data object
    with open("myfile", "ab") as f:
        f.write(b" edited")
    return open("myfile", "rb").read() + b" / " + open("myfile2", "rb").read()


@pytest.mark.timeout(60)
def test_data_instance_write_and_link_in_a_remote_function(make_cluster, tmp_path, monkeypatch):
    # Python tasks run in their worker's directory: workers of their own, started in a scratch one.
    monkeypatch.chdir(tmp_path)
    client = Client(*make_cluster(workers=1, cpus=1).address)
    with client.new_session() as session:
        t = my_remote_function(blob(b"data"))
        t.output.keep()
        session.submit()
        assert t.output.fetch().get_bytes() == b"data edited / data"
        t.output.fetch().link("in-client")  # in the client, link writes
        assert (tmp_path / "in-client").read_bytes() == b"data edited / data"
    client.close()


@pytest.mark.timeout(60)
def test_task_names_and_cpus(client):
    with client.new_session() as session:
        objects1 = [blob("a"), blob("b")]
        t1 = tasks.Concat(objects1, name="my-plain-name")
        # "train" is the guide's placeholder: these two are built, not run.
        t2 = tasks.Execute(["train", "xyz"], name="main_tasks/training/train1")
        t3 = tasks.Execute(["train", "abc"], name="main_tasks/training/train1")
        # Reserve 4 CPUs for execution of a program
        t4 = tasks.Execute("a-parallel-program", cpus=4)
        assert t1.core.label == "my-plain-name"
        assert t2.core.label == t3.core.label == "main_tasks/training/train1"
        assert t4.core.resource_request.cpus == 4
        # Never submitted (the programs do not exist): leaving the block closes the session.
