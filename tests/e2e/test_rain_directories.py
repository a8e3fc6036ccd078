"""Rain's directory objects (treadle.rain.client) on real server and worker processes: taken in
from a worker's file system and stored back, passed through Sleep, given to Python tasks,
returned to the client as a tar, with what Execute makes of links and empty directories."""

import io
import os
import tarfile
import tempfile

import pytest

from tests.conftest import assert_serving
from treadle.loom.client import Client as LoomClient
from treadle.rain.client import Client, InputDir, OutputDir, RainException, blob, directory, remote, tasks


@remote()
def list_tree(ctx, tree):
    target = os.path.join(tempfile.mkdtemp(), "tree")
    tree.write(target)
    found = sorted(os.path.relpath(os.path.join(top, name), target)
                   for top, dirs, files in os.walk(target) for name in dirs + files)
    return "{} {} {}".format(tree.data_type, tree.content_type, ",".join(found))


@pytest.fixture
def rain(make_cluster):
    cluster = make_cluster(workers=2, cpus=1)
    client = Client(*cluster.address)
    yield client
    client.close()
    loom = LoomClient(*cluster.address)
    assert_serving(loom, workers=2)
    loom.close()


@pytest.mark.timeout(60)
def test_load_dir_sleep_store_and_a_python_task(rain, tmp_path):
    source = tmp_path / "source"
    (source / "sub" / "empty").mkdir(parents=True)
    (source / "sub" / "f.txt").write_text("f")
    (source / "run.sh").write_text("#!/bin/sh\necho ran\n")
    (source / "run.sh").chmod(0o755)
    with rain.new_session() as session:
        loaded = tasks.LoadDir(str(source))
        slept = tasks.Sleep(loaded, 0.1)
        assert slept.output.data_type == "dir" and slept.output.content_type == "dir"
        tasks.Store(slept, str(tmp_path / "stored"))
        listed = list_tree(slept)
        ran = tasks.Execute("./d/run.sh", input_paths=[InputDir("d", dataobj=slept)], stdout=True)
        for t in (slept, listed, ran):
            t.output.keep()
        session.submit()
        session.wait_all()
        archive = tarfile.open(fileobj=io.BytesIO(slept.output.fetch().get_bytes()))
        assert sorted(archive.getnames()) == ["run.sh", "sub", "sub/empty", "sub/f.txt"]
        assert listed.output.fetch().get_bytes() == b"dir dir run.sh,sub,sub/empty,sub/f.txt"
        assert ran.output.fetch().get_bytes() == b"ran\n"
        with pytest.raises(RainException, match="cannot be loaded"):
            slept.output.fetch().load()
    assert (tmp_path / "stored" / "sub" / "f.txt").read_text() == "f"
    assert (tmp_path / "stored" / "sub" / "empty").is_dir()
    assert os.access(str(tmp_path / "stored" / "run.sh"), os.X_OK)


@pytest.mark.timeout(60)
def test_links_and_empty_directories_made_by_a_program(rain, tmp_path):
    (tmp_path / "empty").mkdir()
    with rain.new_session() as session:
        made = tasks.Execute("mkdir -p out/none && echo x > out/x && ln -s x out/to-x && ln -s /etc/passwd out/abs",
                             shell=True, output_paths=[OutputDir("out")])
        # A link in a directory stays a link: reading through it is the program's business.
        read = tasks.Execute("readlink d/to-x d/abs && cat d/to-x", shell=True,
                             input_paths=[InputDir("d", dataobj=made)], stdout=True)
        empty = tasks.MakeDirectory({"": directory(str(tmp_path / "empty"))})
        with pytest.raises(RainException, match="needs a file name"):
            tasks.MakeDirectory({"": blob("x")})
        read.output.keep()
        empty.output.keep()
        made.output.keep()   # a later submit uses it (Rain's rule: objects of earlier submits must be kept)
        session.submit()
        assert read.output.fetch().get_bytes() == b"x\n/etc/passwd\nx\n"
        assert tarfile.open(fileobj=io.BytesIO(empty.output.fetch().get_bytes())).getnames() == []
        link = tasks.SliceDirectory(made, "to-x")  # last: its failure fails the session
        link.output.keep()
        session.submit()
        with pytest.raises(RainException, match="is a symbolic link"):
            link.output.fetch()


@pytest.mark.timeout(60)
def test_names_python_writes_with_pax_records_reach_the_workers(rain, tmp_path):
    tree = tmp_path / "tree"
    long_dir = tree / ("d" * 120)
    long_dir.mkdir(parents=True)
    (long_dir / "ünïcode.txt").write_text("pax")
    (tree / "hard").write_text("same")
    os.link(str(tree / "hard"), str(tree / "hard2"))  # Python stores the second as a hard link
    with rain.new_session() as session:
        d = directory(str(tree))
        piece = tasks.SliceDirectory(d, "d" * 120 + "/ünïcode.txt")
        linked = tasks.SliceDirectory(d, "hard2")
        listing = tasks.Execute("find d -type f | sort", shell=True, input_paths=[InputDir("d", dataobj=d)],
                                stdout=True)
        for t in (piece, linked, listing):
            t.output.keep()
        session.submit()
        assert piece.output.fetch().get_bytes() == b"pax"
        assert linked.output.fetch().get_bytes() == b"same"
        assert listing.output.fetch().get_bytes().decode() == "d/{}/ünïcode.txt\nd/hard\nd/hard2\n".format("d" * 120)
