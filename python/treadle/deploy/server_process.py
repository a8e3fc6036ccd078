"""A treadle-server that outlives the command that started it (``treadle-cluster start``
returns; the server keeps serving the jobs until ``treadle-cluster stop``).

It runs in a session of its own, with its output in a log file, so neither a closed terminal
nor the end of the starting process stops it; the process is found again by its pid."""

import os
import signal
import socket
import subprocess
import time

from .install import program

__all__ = ["default_host", "pid_alive", "start_server", "stop_process"]


def default_host():
    """The address this host's name resolves to: where compute nodes usually reach it."""
    name = socket.gethostname()
    try:
        return socket.gethostbyname(name)
    except OSError:
        return "127.0.0.1"


def pid_alive(pid):
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own child not yet reaped) has stopped serving.
    try:
        with open("/proc/{}/stat".format(int(pid))) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def start_server(host, port, secret_file, log_path, timeout=20.0, extra_args=()):
    """Starts ``treadle-server --host HOST --port PORT`` detached; returns (pid, port) once it
    listens. Raises RuntimeError with the log's tail if it exits or stays silent."""
    argv = [program("treadle-server"), "--host", host, "--port", str(port), "--secret-file", secret_file]
    argv += [str(a) for a in extra_args]
    env = dict(os.environ)
    env.pop("TREADLE_SECRET", None)
    env.setdefault("TREADLE_LOG", "info")   # a log file read when debugging: each line's time and level
    with open(log_path, "ab") as log:
        start = log.tell()
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                                start_new_session=True, close_fds=True)
    deadline = time.monotonic() + timeout
    while True:
        with open(log_path, "rb") as f:
            f.seek(start)
            for line in f.read().decode(errors="replace").splitlines():
                words = line.split()
                if len(words) == 3 and words[0] == "listening" and words[2].isdigit():
                    return proc.pid, int(words[2])
        code = proc.poll()
        if code is not None or time.monotonic() > deadline:
            if code is None:
                stop_process(proc.pid)
            with open(log_path, "rb") as f:
                f.seek(start)
                tail = f.read().decode(errors="replace")[-2000:]
            raise RuntimeError("treadle-server did not start ({}):\n{}".format(
                "exit code {}".format(code) if code is not None else "no 'listening' line within {:g} s".format(timeout),
                tail.strip() or "(no output)"))
        time.sleep(0.02)


def stop_process(pid, grace=5.0):
    """SIGTERM, then SIGKILL after ``grace`` seconds; returns once the process is gone."""
    try:
        os.kill(int(pid), signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while pid_alive(pid):
        try:
            os.waitpid(int(pid), os.WNOHANG)   # our own child (tests, one process): reap it
        except ChildProcessError:
            pass
        if time.monotonic() > deadline:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + grace
        time.sleep(0.02)
