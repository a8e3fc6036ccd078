"""A server and workers on this machine, as real processes: for scripts, tests and demos."""

import os
import signal
import subprocess
import sys
import time

from .core import paths
from .core.connection import Connection, server_stopped
from .core.processes import child_setup

_entered = []   # LocalClusters inside their ``with`` block, innermost last


def entered_address():
    """(host, port) of the innermost ``with local_cluster(...)`` block this process is in, or
    None: the cluster that clients made there without an address connect to (IPython's
    ``client.TaskClient()``, whose controller ``ipcluster -n 4`` started)."""
    return _entered[-1].address if _entered else None


class LocalCluster:
    """Starts ``treadle-server`` and ``workers`` ``treadle-worker`` processes on 127.0.0.1.

    Use it as a context manager; leaving it stops every process it started::

        with treadle.local_cluster(workers=2, cpus=1) as cluster:
            client = Client(*cluster.address)
    """

    def __init__(self, workers=2, cpus=1, host="127.0.0.1", port=0, worker_args=(), server_args=(),
                 timeout=30.0, quiet=True, worker_program="treadle-worker"):
        if not isinstance(workers, int) or workers < 0:
            raise ValueError("workers must be a non-negative integer, got {!r}".format(workers))
        if not isinstance(cpus, int) or cpus < 1:
            raise ValueError("cpus must be a positive integer, got {!r}".format(cpus))
        self.host = host
        self.cpus = cpus
        self._worker_args = list(worker_args)
        self._worker_program = worker_program
        self._timeout = timeout
        self._output = subprocess.DEVNULL if quiet else None
        self.server = None
        self.workers = []
        try:
            self._start_server(port, list(server_args))
            for _ in range(workers):
                self.add_worker()
            self.wait_for_workers(workers)
        except BaseException:
            self.close()
            raise

    @property
    def address(self):
        """(host, port) of the server."""
        return (self.host, self.port)

    def _start_server(self, port, args):
        cmd = [paths.program("treadle-server"), "--host", self.host, "--port", str(port)] + args
        self.server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._output,
                                       preexec_fn=child_setup(), text=True)
        line = self.server.stdout.readline().split()
        if len(line) != 3 or line[0] != "listening":
            self.server.wait(5)
            raise RuntimeError("treadle-server did not start (exit code {})".format(self.server.returncode))
        self.port = int(line[2])

    def add_worker(self, cpus=None, args=(), program=None):
        """Starts one more worker process (``program``: an extended worker, see
        docs/extending.md); returns its Popen."""
        program = program or self._worker_program
        path = program if os.sep in program else paths.program(program)
        cmd = [path, "{}:{}".format(self.host, self.port),
               "--cpus", str(cpus or self.cpus)] + self._worker_args + list(args)
        proc = subprocess.Popen(cmd, stdout=self._output, stderr=self._output, preexec_fn=child_setup(),
                                env=_with_script_dir(os.environ))
        self.workers.append(proc)
        return proc

    def wait_for_workers(self, count, timeout=None):
        """Blocks until ``count`` workers are connected to the server (a worker connects once
        its Python executors are ready: the first map runs at full speed)."""
        deadline = time.monotonic() + (timeout or self._timeout)
        conn = Connection(self.host, self.port, name="local_cluster")
        try:
            while True:
                status = conn.status()
                if len(status["workers"]) >= count:
                    return status
                dead = [w for w in self.workers if w.poll() is not None]
                if dead:
                    raise RuntimeError("a treadle-worker exited with code {}".format(dead[0].returncode))
                if time.monotonic() > deadline:
                    raise TimeoutError("only {} of {} workers connected".format(len(status["workers"]), count))
                time.sleep(0.02)
        finally:
            conn.close()

    def close(self):
        """Stops the workers and the server (SIGTERM, then SIGKILL after 5 s). The clients still
        connected to it fail their calls at once from now on, naming this cluster."""
        if self.server is not None and self.server.poll() is None and getattr(self, "port", None):
            server_stopped(self.address, "the cluster this client was connected to was closed "
                                         "(local_cluster at {}:{})".format(*self.address))
        procs = [w for w in self.workers if w.poll() is None]
        if self.server is not None and self.server.poll() is None:
            procs.append(self.server)
        for p in procs:
            p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for p in procs:
            try:
                p.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if self.server is not None and self.server.stdout:
            self.server.stdout.close()
        self.workers = []
        if self in _entered:
            _entered.remove(self)

    def __enter__(self):
        _entered.append(self)
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if self.server is not None and self.server.poll() is None:
            self.close()


def _with_script_dir(env):
    """``env`` with the folder of the script that started this process (sys.path[0]) on its
    PYTHONPATH: the executors import the modules beside it, as a process pool's children would
    (``python3 proj/run.py`` run elsewhere, with ``from mylib import ...`` in run.py)."""
    script_dir = os.path.abspath(sys.path[0]) if sys.path and sys.path[0] else os.getcwd()
    paths_now = env.get("PYTHONPATH", "")
    if not os.path.isdir(script_dir) or script_dir in paths_now.split(os.pathsep):
        return dict(env)
    return dict(env, PYTHONPATH=os.pathsep.join(filter(None, [paths_now, script_dir])))


def local_cluster(workers=2, cpus=1, **kwargs):
    """A LocalCluster of ``workers`` worker processes with ``cpus`` cpus each."""
    return LocalCluster(workers=workers, cpus=cpus, **kwargs)
