"""A worker's files are its user's alone (engine/worker/private_files.hpp, docs/architecture.md):
its directory, a program task's run directory, its input and stdout files and spilled objects are
0700 directories and 0600 files, so other users of a shared node read no task data. What the
program itself creates keeps the user's umask (it may write to shared folders elsewhere); in its
run directory the 0700 directories above it keep it out of others' reach. Files the user names
(save, checkpoints) get the user's umask too."""

import os
import stat

import pytest

from tests.conftest import wait_until
from treadle.loom.client import Client, tasks


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.timeout(120)
def test_a_program_tasks_directory_input_and_spilled_objects_are_private(make_cluster, tmp_path):
    root = tmp_path / "root"
    cluster = make_cluster(workers=1, cpus=1, worker_args=["--workdir", str(root), "--memory-limit", "1000"])
    client = Client(*cluster.address)
    user_umask = os.umask(0o22)
    os.umask(user_umask)
    try:
        worker_dir = root / "worker-{}".format(cluster.workers[0].pid)
        wait_until(worker_dir.exists, timeout=30, what="the worker's directory")
        assert mode(worker_dir) == 0o700

        # The program reports the modes of its directory (up to the worker's), its input, its
        # stdout and a file it creates, while they exist.
        script = ("d=$PWD; while [ \"$d\" != {top} ]; do stat -c '%a %n' \"$d\"; d=$(dirname \"$d\"); done; "
                  "stat -c '%a input' input; stat -L -c '%a stdout' /proc/self/fd/1; "
                  "echo made > made; stat -c '%a made' made").format(top=str(worker_dir))
        report = client.submit_one(tasks.run(("sh", "-c", script), [(tasks.const("PATIENT-RECORD 12345\n"), "input")]))
        lines = report.gather().decode().split("\n")
        modes = dict(reversed(line.split(" ", 1)) for line in lines if line)
        directories = [path for path in modes if path.startswith(str(worker_dir))]
        assert directories, lines
        assert all(modes[path] == "700" for path in directories), lines
        assert modes["input"] == "600" and modes["stdout"] == "600", lines
        assert modes["made"] == "{:o}".format(0o666 & ~user_umask), lines

        # Over its memory limit, the worker spills a large plain object to a file.
        big = client.submit_one(tasks.const(b"CONFIDENTIAL " * 10000))
        big.wait()
        spill = worker_dir / "spill"
        wait_until(lambda: spill.exists() and list(spill.iterdir()), timeout=30, what="a spilled object")
        assert mode(spill) == 0o700
        assert all(mode(f) == 0o600 for f in spill.iterdir()), [(f.name, oct(mode(f))) for f in spill.iterdir()]
        assert big.gather() == b"CONFIDENTIAL " * 10000

        # A file the user names (save, checkpoints) is theirs to share: their umask's modes.
        saved = tmp_path / "saved"
        client.submit_one(tasks.save(tasks.const("shared\n"), str(saved))).wait()
        assert mode(saved) == 0o666 & ~user_umask
    finally:
        client.close()
