"""Fixtures of the batch-scheduler tests: a private one-node SLURM cluster (also behind SLURM's
PBS wrappers) and a one-node Grid Engine cell, and ``treadle-cluster`` run as a user would.

A scheduler that cannot start fails the tests that need it, with the daemon's log tail: these
tests are never skipped silently (docs/testing.md).
"""

import json
import os
import subprocess

import pytest

from tests.conftest import ROOT, SECRET, wait_until

from .gridengine_cell import GridEngineCell
from .slurm_cluster import SchedulerDidNotStart, SlurmCluster

PREFIX_BIN = os.path.join(ROOT, "prefix", "bin")
TORQUE_WRAPPERS = os.path.join(ROOT, "build", "torque-wrappers")


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except SchedulerDidNotStart as e:
        cluster.stop()
        pytest.fail("the one-node SLURM cluster did not start: {}".format(e), pytrace=False)
    yield cluster
    cluster.stop()


class ClusterCommand:
    """``treadle-cluster`` as a user runs it: its own data folder (state, logs), the secret in a
    0600 file (the tests' random one, so this process's clients agree), no $TREADLE_SECRET."""

    def __init__(self, folder, env):
        self.folder = str(folder)
        os.makedirs(os.path.join(self.folder, "data"), exist_ok=True)
        self.secret_file = os.path.join(self.folder, "secret")
        fd = os.open(self.secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(SECRET + "\n")
        self.env = dict(env)
        self.env.pop("TREADLE_SECRET", None)
        self.env.update(TREADLE_SECRET_FILE=self.secret_file, XDG_DATA_HOME=os.path.join(self.folder, "data"),
                        PATH=PREFIX_BIN + os.pathsep + env.get("PATH", ""))
        self.names = set()

    def __call__(self, *args, check=True, timeout=90):
        name = args[args.index("--name") + 1] if "--name" in args else "default"
        self.names.add(name)
        done = subprocess.run(["treadle-cluster"] + [str(a) for a in args], capture_output=True, text=True,
                              env=self.env, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError("treadle-cluster {} failed ({}):\n{}{}".format(
                " ".join(map(str, args)), done.returncode, done.stdout, done.stderr))
        return done

    def status(self, name="default"):
        return json.loads(self("status", "--json", "--name", name).stdout)

    def address(self, name="default"):
        return self("address", "--name", name).stdout.strip()

    def state_file(self, name="default"):
        return os.path.join(self.folder, "data", "treadle", "clusters", name, "state.json")

    def server_pid(self, name="default"):
        with open(self.state_file(name)) as f:
            return json.load(f)["server"]["pid"]

    def wait_for_workers(self, count, name="default", timeout=60):
        def joined():
            status = self.status(name)
            matched = [j for j in status["jobs"].values() if j["worker"]]
            return status if len(matched) >= count else None
        return wait_until(joined, timeout=timeout, interval=0.2,
                          what="{} workers from the jobs of cluster {!r}".format(count, name))

    def stop_all(self):
        for name in self.names:
            self("stop", "--name", name, check=False)


@pytest.fixture
def slurm_cli(slurm, tmp_path):
    cli = ClusterCommand(tmp_path, slurm.environment())
    yield cli
    cli.stop_all()
    slurm.cancel_all()


@pytest.fixture(scope="session")
def gridengine():
    cell = GridEngineCell()
    try:
        cell.start()
    except SchedulerDidNotStart as e:
        cell.stop()
        pytest.fail("the one-node Grid Engine cell did not start: {}".format(e), pytrace=False)
    yield cell
    cell.stop()


@pytest.fixture
def sge_cli(gridengine, tmp_path):
    cli = ClusterCommand(tmp_path, gridengine.environment())
    yield cli
    cli.stop_all()
    gridengine.cancel_all()


@pytest.fixture
def pbs_cli(slurm, tmp_path):
    """treadle-cluster's PBS path through SLURM's PBS commands (qsub, qstat, qdel), which
    ./setup.sh unpacks into build/torque-wrappers."""
    if not os.access(os.path.join(TORQUE_WRAPPERS, "qsub"), os.X_OK):
        pytest.fail("SLURM's PBS wrappers are not in {} (./setup.sh unpacks them from slurm-wlm-torque)".format(
            TORQUE_WRAPPERS), pytrace=False)
    env = slurm.environment()
    env["PATH"] = TORQUE_WRAPPERS + os.pathsep + env["PATH"]
    cli = ClusterCommand(tmp_path, env)
    yield cli
    cli.stop_all()
    slurm.cancel_all()
