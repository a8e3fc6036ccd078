"""``treadle-cluster start`` checks every argument before anything starts: a value the scheduler
submission would refuse (a bad --time, --mem, --partition, --pe, cluster name) fails the command
and leaves no detached server behind (docs/cluster.md). No scheduler is needed: nothing is
submitted."""

import os

import psutil
import pytest

from .conftest import ClusterCommand


def servers_reading(secret_file):
    """treadle-server processes started with this secret file (detached: not our children)."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            cmdline = p.info["cmdline"] or []
            if cmdline and os.path.basename(cmdline[0]) == "treadle-server" and secret_file in cmdline:
                found.append(p)
        except psutil.Error:
            pass
    return found


@pytest.mark.timeout(60)
@pytest.mark.parametrize("args, message", [
    (["--slurm", "1", "--time", "abc"], "--time 'abc': give minutes, H:MM:SS or D-HH:MM:SS"),
    (["--slurm", "2", "--mem", "lots"], "--mem 'lots': give a size such as 4G or 500M"),
    (["--pbs", "1", "--partition", "a queue"], "--partition 'a queue': letters, digits and _.@+- only"),
    (["--sge", "1", "--cpus", "2", "--pe", "s m p"], "--pe 's m p': letters, digits and _.@+- only"),
    (["--slurm", "1", "--name", "my cluster"], "the job name 'treadle-my cluster': letters, digits and _.@+- only"),
    (["--slurm", "--adapt", "1:3", "--account", "a;b"], "--account 'a;b': letters, digits and _.@+- only"),
])
def test_a_bad_job_argument_starts_nothing(tmp_path, args, message):
    cli = ClusterCommand(tmp_path, os.environ)
    try:
        done = cli("start", "--host", "127.0.0.1", *args, check=False)
        assert done.returncode == 1, (done.stdout, done.stderr)
        assert done.stderr.strip() == "treadle-cluster: " + message, done.stderr
        assert "started" not in done.stdout, done.stdout
        name = args[args.index("--name") + 1] if "--name" in args else "default"
        assert not os.path.exists(cli.state_file(name))
        assert not servers_reading(cli.secret_file)
    finally:
        for p in servers_reading(cli.secret_file):
            p.kill()
