"""Workers on other hosts, started over ssh and connecting back to a server on this one.

    from treadle.remote import parse_hosts, start_remote_workers

    with start_remote_workers(("10.0.0.5", 9010), parse_hosts("node1,node2:4"), cpus=2) as remote:
        print(remote.describe())
        ...                          # workers on node1 (1) and node2 (4) run tasks
    # leaving the block stops them

Hosts are given like SCOOP's: a hostfile with ``host [n]`` per line (``parse_hostfile``) or a
list ``a,b:2,c`` (``parse_hosts``), where n is the number of workers on that host (default 1).

How it works: one ``ssh`` session per host (``BatchMode=yes``: keys or an agent, never a
password prompt) runs a small supervisor in ``python`` there, which reads the secret from its
stdin, starts the n ``treadle-worker SERVER_HOST:PORT --cpus C`` with the secret in their
environment only (never on a command line), then waits. When its stdin ends (``stop()``
closes it, or this process or its ssh client dies and the session drops) it stops its workers
(SIGTERM, SIGKILL after 5 s) and exits; the workers also die with it if it is killed (parent
death signal). A worker that loses its server for 10 s exits on its own, the last resort when
a host loses the network without the ssh session noticing.

A shared file system is assumed: the worker program and the Python package are looked up on
the remote hosts at the same paths as in this install (or under ``prefix``).
"""

import collections
import ipaddress
import os
import shlex
import socket
import subprocess
import threading
import time

from .core import address as _address
from .core import engine, paths
from .core.connection import Connection
from .core.processes import child_setup

__all__ = ["RemoteWorkerError", "RemoteWorkers", "host_cpu_count", "local_address_for", "parse_hostfile", "parse_hosts",
           "start_remote_workers"]

_STOP_GRACE = 5.0       # seconds the supervisor (and stop()) give workers to exit before SIGKILL
_MARK = "treadle-remote:"

# Runs on the remote host as `python -c _BOOT PYTHONPATH COUNT GRACE -- ARGV...`: _BOOT reads this code
# from stdin (its length on a line, then the code), then the code reads the secret (the next line),
# so neither shows on a command line. Kept free of treadle imports: the remote Python needs nothing.
_BOOT = "import sys;b=sys.stdin.buffer;exec(b.read(int(b.readline())))"
_SUPERVISOR = r"""
import ctypes, os, signal, subprocess, sys, threading, time
M = "treadle-remote:"
def say(*a):
    # One write of the whole line: the workers write to the same stream, and a line written in
    # pieces could be cut by theirs (a write under PIPE_BUF bytes is never split).
    try:
        os.write(1, (" ".join([M] + [str(x) for x in a]) + "\n").encode())
    except OSError:
        pass
pythonpath, count, argv = sys.argv[1], int(sys.argv[2]), sys.argv[5:]
secret = b.readline().rstrip(b"\n").decode()
if not secret:
    say("error: no secret on stdin")
    sys.exit(2)
env = dict(os.environ, TREADLE_SECRET=secret)
env.pop("TREADLE_SECRET_FILE", None)
if pythonpath:
    env["PYTHONPATH"] = pythonpath
def die_with_me():
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)
    except Exception:
        pass
workers = []
stopping = threading.Event()
def stop(*_):
    if stopping.is_set():
        return
    stopping.set()
    for p in workers:
        if p.poll() is None:
            p.terminate()
    def killer():
        time.sleep(float(sys.argv[3]))
        for p in workers:
            if p.poll() is None:
                p.kill()
    threading.Thread(target=killer, daemon=True).start()
for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
    signal.signal(s, lambda *_: stop())
signal.signal(signal.SIGPIPE, signal.SIG_IGN)
try:
    for _ in range(count):
        workers.append(subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, preexec_fn=die_with_me))
except OSError as e:
    say("error: cannot start {}: {}".format(argv[0], e))
    stop()
    for p in workers:
        p.wait()
    sys.exit(127)
say("started", os.uname().nodename, " ".join(str(p.pid) for p in workers))
def watch_stdin():
    while True:
        try:
            if not os.read(0, 65536):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    stop()
threading.Thread(target=watch_stdin, daemon=True).start()
codes = {}
while len(codes) < len(workers):
    for p in workers:
        if p.pid not in codes and p.poll() is not None:
            codes[p.pid] = p.returncode
            if not stopping.is_set():
                say("worker {} exited with code {}".format(p.pid, p.returncode))
    time.sleep(0.1)
sys.exit(0 if stopping.is_set() else max(abs(c) for c in codes.values()) or 1)
"""


class RemoteWorkerError(RuntimeError):
    """Workers on a host could not be started (ssh failed, or the workers exited)."""

    def __init__(self, host, message):
        super().__init__(message)
        self.host = host


# -------------------------------------------------------------------------------------------
# Host lists

def _check_host(host, where):
    if not host or host.startswith("-") or any(c.isspace() for c in host):
        raise ValueError("{}: {!r} is not a host name".format(where, host))
    return host


def _count(text, where):
    if not text.isdigit() or int(text) < 1:
        raise ValueError("{}: the number of workers must be a positive integer, not {!r}".format(where, text))
    return int(text)


def parse_hostfile(path, default=1):
    """Reads a SCOOP hostfile: ``host [n]`` per line (n workers), ``#`` comments and blank
    lines ignored. Returns ``[(host, n)]`` in file order, n being ``default`` on a line without
    a count (``default=None`` tells such a line from ``host 1``: SCOOP's launcher then starts
    one worker per core of that host). A bad line raises ValueError naming the file and the
    line number."""
    hosts = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            where = "{} line {}".format(path, number)
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if len(fields) > 2:
                raise ValueError("{}: expected 'host [n]', got {!r}".format(where, line.strip()))
            host = _check_host(fields[0], where)
            n = _count(fields[1], where) if len(fields) == 2 else default
            hosts.append((host, n))
    if not hosts:
        raise ValueError("{}: no hosts in the file".format(path))
    return hosts


def parse_hosts(text):
    """Parses ``"a,b:2,c"`` (or a list of such items) into ``[(host, n)]``; ``host:n`` asks for n
    workers on host (default 1). IPv6 addresses go in brackets: ``[fd00::1]:2``."""
    items = text if isinstance(text, (list, tuple)) else str(text).split(",")
    hosts = []
    for item in items:
        item = item.strip()
        if not item:
            continue
        where = "in the host list, {!r}".format(item)
        host, n = item, 1
        if item.startswith("["):
            end = item.find("]")
            if end < 0:
                raise ValueError("{}: missing ']'".format(where))
            host, rest = item[1:end], item[end + 1:]
            if rest:
                if not rest.startswith(":"):
                    raise ValueError("{}: expected '[address]:n'".format(where))
                n = _count(rest[1:], where)
        elif item.count(":") == 1:
            host, count = item.split(":")
            n = _count(count, where)
        hosts.append((_check_host(host, where), n))
    if not hosts:
        raise ValueError("no hosts given (expected e.g. 'a,b:2,c')")
    return hosts


# -------------------------------------------------------------------------------------------
# Addresses

def _resolve(host):
    """The IP addresses a name stands for on this machine (empty if it does not resolve)."""
    name = host.rsplit("@", 1)[-1].strip("[]")
    try:
        return {ipaddress.ip_address(name)}
    except ValueError:
        pass
    try:
        return {ipaddress.ip_address(info[4][0].split("%")[0]) for info in socket.getaddrinfo(name, None)}
    except (OSError, UnicodeError):
        return set()


def _route_towards(host):
    """The local address the kernel would use to reach ``host`` (no packet is sent)."""
    for ip in _resolve(host):
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            try:
                s.connect((str(ip), 9))
                return s.getsockname()[0]
            except OSError:
                continue
    return None


def _server_host_for(server_host, host):
    """The server address that workers on ``host`` should connect to."""
    wildcard = server_host in ("", "*", "0.0.0.0", "::")
    if wildcard:
        local = _route_towards(host)
        if local is None:
            raise ValueError(
                "the server listens on all addresses ({}), and no local address that reaches {!r} "
                "was found: give the server's address as the hosts see it".format(server_host or "*", host))
        return local
    return server_host


def local_address_for(host):
    """This machine's address that ``host`` reaches it on (the one the kernel routes towards
    it): what a local worker must serve its data on when workers on ``host`` fetch from it."""
    return _server_host_for("0.0.0.0", host)


def _check_reachable(server_host, server_port, hosts):
    ips = _resolve(server_host) if server_host not in ("", "*") else set()
    if ips and all(ip.is_loopback for ip in ips):
        # Only workers on this very machine could reach it.
        if all(_resolve(h) and all(ip.is_loopback for ip in _resolve(h)) for h, _ in hosts):
            return
        raise ValueError(
            "the server listens on {}:{}, a loopback address that workers on {} cannot reach: "
            "start the server on an address these hosts can reach (e.g. `treadle-server --host "
            "ADDRESS`, with ADDRESS this machine's address on their network) and give that "
            "address".format(server_host, server_port, ", ".join(h for h, _ in hosts)))


# -------------------------------------------------------------------------------------------
# Processes

def _server_worker_ids(address, secret, timeout=5.0):
    conn = Connection(address[0], address[1], secret or "", "remote_workers", float(timeout))
    try:
        return conn.status()["workers"]
    finally:
        conn.close()


class _Session:
    """One ssh session: the supervisor of ``count`` workers on ``host``."""

    def __init__(self, host, count, cpus, server, process):
        self.host = host
        self.server = server        # the server address the workers were given
        self.count = count
        self.cpus = cpus
        self.process = process
        self.lines = collections.deque(maxlen=200)
        self.remote_name = None
        self.remote_pids = []
        self.failure = None
        self.started = threading.Event()
        self._reader = threading.Thread(target=self._read, name="ssh-" + host, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if line.startswith(_MARK):
                words = line[len(_MARK):].split()
                if words[:1] == ["started"] and len(words) >= 2:
                    self.remote_name = words[1]
                    self.remote_pids = [int(w) for w in words[2:] if w.isdigit()]
                    self.started.set()
                elif self.failure is None and (words[:1] == ["error:"] or words[:1] == ["worker"]):
                    self.failure = " ".join(words)
        self.process.stdout.close()

    def output(self, last=20):
        """The last lines ssh, the supervisor and the workers wrote (stdout and stderr)."""
        self.join_reader(0.5)
        return "\n".join(list(self.lines)[-last:])

    def join_reader(self, timeout):
        if self.process.poll() is not None:
            self._reader.join(timeout)

    def problem(self):
        """None, or why this host's workers are not (all) running."""
        code = self.process.poll()
        if code is not None:
            self.join_reader(1.0)
            if code == 255:
                what = "ssh to {} failed (exit code 255)".format(self.host)
            else:
                what = "the workers on {} exited (code {})".format(self.host, code)
            return "{}:\n{}".format(what, self.output() or "(no output)")
        if self.failure is not None:
            return "on {}: {}\n{}".format(self.host, self.failure, self.output())
        return None


class RemoteWorkers:
    """Workers started on other hosts by ``start_remote_workers``; a context manager whose
    exit calls ``stop()``."""

    def __init__(self, server_address, status_address, sessions, secret):
        self.server_address = server_address    # (host, port) as given
        self._status_address = status_address   # where this process asks the server for its workers
        self._sessions = sessions
        self._secret = secret

    @property
    def processes(self):
        """The ssh processes (Popen), one per host."""
        return [s.process for s in self._sessions]

    @property
    def hosts(self):
        return [(s.host, s.count) for s in self._sessions]

    def output(self, host=None, last=20):
        """What ssh and the workers last printed, for one host or all."""
        return "\n".join("[{}]\n{}".format(s.host, s.output(last)) for s in self._sessions
                         if host is None or s.host == host)

    def describe(self):
        """Which workers run where, as text."""
        total = sum(s.count for s in self._sessions)
        cpus = sum(s.count * s.cpus for s in self._sessions)
        lines = ["{} remote worker{} ({} cpus) on {} host{}".format(
            total, "" if total == 1 else "s", cpus, len(self._sessions), "" if len(self._sessions) == 1 else "s")]
        for s in self._sessions:
            state = "running" if s.process.poll() is None else "stopped (code {})".format(s.process.returncode)
            where = s.host if not s.remote_name or s.remote_name == s.host else "{} ({})".format(s.host, s.remote_name)
            pids = " pids " + " ".join(map(str, s.remote_pids)) if s.remote_pids else ""
            lines.append("  {}: {} worker{} x {} cpu{} -> server {}, {}{}".format(
                where, s.count, "" if s.count == 1 else "s", s.cpus, "" if s.cpus == 1 else "s", s.server, state,
                pids))
        return "\n".join(lines)

    def __repr__(self):
        return "<RemoteWorkers {}>".format(", ".join("{}:{}".format(h, n) for h, n in self.hosts))

    def wait_connected(self, expected, before, timeout):
        deadline = time.monotonic() + timeout
        joined, error = 0, None
        while True:
            for s in self._sessions:
                problem = s.problem()
                if problem:
                    raise RemoteWorkerError(s.host, problem)
            if all(s.started.is_set() for s in self._sessions):
                try:
                    workers = _server_worker_ids(self._status_address, self._secret)
                except Exception as e:  # the server is busy or gone: try again until the deadline
                    workers, error = None, e
                else:
                    error = None
                    joined = len([w for w in workers if w["id"] not in before])
                    if joined >= expected:
                        return
            if time.monotonic() > deadline:
                waiting = [s.host for s in self._sessions if not s.started.is_set()]
                if waiting:
                    msg = "no answer from ssh to {} within {:g} s".format(", ".join(waiting), timeout)
                    host = waiting[0]
                elif error is not None:
                    msg = "cannot ask the server at {}:{} for its workers: {}".format(
                        self._status_address[0], self._status_address[1], error)
                    host = None
                else:
                    msg = ("only {} of {} remote workers connected to {}:{} within {:g} s (can the hosts reach "
                           "that address, and is the secret the same?)".format(
                               joined, expected, self.server_address[0], self.server_address[1], timeout))
                    host = None
                raise RemoteWorkerError(host, msg + "\n" + self.output())
            time.sleep(0.05)

    def stop(self, timeout=_STOP_GRACE + 3):
        """Stops every worker: ends each ssh session's input (the remote supervisor then stops
        its workers and exits), then terminates ssh processes that are still there."""
        for s in self._sessions:
            try:
                if s.process.stdin and not s.process.stdin.closed:
                    s.process.stdin.close()
            except OSError:
                pass
        deadline = time.monotonic() + timeout
        for s in self._sessions:
            try:
                s.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                s.process.terminate()
        for s in self._sessions:
            try:
                s.process.wait(3)
            except subprocess.TimeoutExpired:
                s.process.kill()
                s.process.wait()
            s.join_reader(2.0)

    close = stop

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def __del__(self):
        try:
            if any(p.poll() is None for p in self.processes):
                self.stop()
        except Exception:
            pass


def _ssh_command(ssh, ssh_args, host, timeout):
    """ssh to ``host`` as the workers are started: keys or an agent, never a prompt."""
    return [ssh, "-T", "-x", "-a", "-o", "BatchMode=yes", "-o", "ConnectTimeout={:d}".format(
                max(1, int(min(timeout, 15)))), "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3"] \
        + [str(a) for a in ssh_args] + [host]


def host_cpu_count(host, ssh_args=(), ssh="ssh", timeout=30.0):
    """The number of cores of ``host``: ``nproc`` run there over the ssh path the workers
    take (``ssh_args``, ``ssh`` as for ``start_remote_workers``). Raises RemoteWorkerError
    naming the host, with ssh's output, when ssh fails or the answer is not a number."""
    cmd = _ssh_command(ssh, ssh_args, _check_host(str(host), "host list"), timeout) + ["nproc"]
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                              preexec_fn=child_setup())
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RemoteWorkerError(host, "cannot ask {} for its number of cores: {}".format(host, e))
    answer = done.stdout.strip()
    if done.returncode != 0 or not answer.isdigit() or int(answer) < 1:
        raise RemoteWorkerError(host, "cannot ask {} for its number of cores (`nproc` over ssh, exit code {}):\n{}"
                                .format(host, done.returncode, (done.stderr + done.stdout).strip() or "(no output)"))
    return int(answer)


def _default_pythonpath(prefix):
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    package = os.path.join(prefix, "lib", "treadle", "python") if prefix else here
    entries = [package] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    out = []
    for p in entries:
        p = os.path.abspath(p)
        if p not in out:
            out.append(p)
    return os.pathsep.join(out)


def _worker_path(program, prefix):
    if os.sep in program:
        return program
    if prefix:
        return os.path.join(prefix, "bin", program)
    return paths.program(program)


def start_remote_workers(server_address, hosts, cpus=1, python="/usr/bin/python3", ssh_args=(),
                         program="treadle-worker", secret=None, prefix=None, timeout=30.0,
                         worker_args=(), pythonpath=None, ssh="ssh", prolog=None):
    """Starts workers on other hosts over ssh, connected to the server at ``server_address``
    (``(host, port)`` or ``"host:port"``); returns a ``RemoteWorkers`` once all of them have
    joined the server.

    ``hosts``: ``[(host, n)]`` as ``parse_hosts``/``parse_hostfile`` give (a string is parsed
    with ``parse_hosts``); ``host`` may be ``user@host`` or an alias of ~/.ssh/config. Each host
    gets n ``program`` workers with ``cpus`` cpus each, their Python tasks running in
    ``python``. ``ssh_args`` go to ssh before the host (``-i KEY``, ``-p PORT``, ``-o ...``);
    ssh runs with ``BatchMode=yes``, so it needs keys or an agent, never a password.

    **A shared file system is assumed**: the worker program is run on the hosts at the path it
    has here (``prefix/bin/program`` if ``prefix`` is given), and $PYTHONPATH there is this
    install's package folder plus this process's $PYTHONPATH (``pythonpath`` overrides it), so
    modules your tasks import must be at the same paths on every host.

    The secret (``secret``, else $TREADLE_SECRET, $TREADLE_SECRET_FILE or the per-user secret
    file, like every treadle program) travels on ssh's stdin and reaches the workers in their
    environment only, never on a command line.

    The server must listen on an address the hosts can reach: a loopback address raises
    ValueError (unless every host is this machine); for a server listening on all addresses
    (0.0.0.0), each host is given the local address that routes to it.

    ``prolog``: a shell script sourced on each host before its workers start (SCOOP's
    ``--prolog``: ``module load``, a virtualenv's ``activate``...); the workers inherit what it
    exports, and a prolog that fails stops that host's start with its output.

    Raises ``RemoteWorkerError`` naming the host, with ssh's and the workers' output, when ssh
    fails (unreachable host, refused key) or the workers exit, and when not all workers have
    joined within ``timeout`` seconds; the workers already started are stopped first.
    """
    if isinstance(hosts, str):
        hosts = parse_hosts(hosts)
    hosts = [(_check_host(str(h), "host list"), int(n)) for h, n in hosts]
    if not hosts:
        raise ValueError("no hosts given")
    if any(n < 1 for _, n in hosts):
        raise ValueError("the number of workers per host must be positive: {!r}".format(hosts))
    if not isinstance(cpus, int) or cpus < 1:
        raise ValueError("cpus must be a positive integer, got {!r}".format(cpus))
    server_host, server_port = _address.parse(server_address)
    _check_reachable(server_host, server_port, hosts)
    if secret is None:
        secret = engine.load_secret()
    if isinstance(secret, bytes):
        secret = secret.decode()
    if not secret or "\n" in secret or "\r" in secret:
        raise ValueError("the secret must be one non-empty line")
    worker = _worker_path(program, prefix)
    if pythonpath is None:
        pythonpath = _default_pythonpath(prefix)
    # Where this process asks the server for its workers (a wildcard server is asked on loopback).
    status_address = _address.server_key((server_host, server_port))
    before = {w["id"] for w in _server_worker_ids(status_address, secret)}

    sessions = []
    remote = RemoteWorkers((server_host, server_port), status_address, sessions, secret)
    try:
        for host, n in hosts:
            target = _server_host_for(server_host, host)
            target = "[{}]".format(target) if ":" in target else target
            argv = [worker, "{}:{}".format(target, server_port), "--cpus", str(cpus), "--python", python]
            argv += [str(a) for a in worker_args]
            command = " ".join(shlex.quote(a) for a in
                               ["exec", python, "-c", _BOOT, pythonpath, str(n), str(_STOP_GRACE), "--"] + argv)
            if prolog:
                command = ". {} </dev/null && {}".format(shlex.quote(prolog), command)
            cmd = _ssh_command(ssh, ssh_args, host, timeout) + [command]
            process = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, bufsize=1,
                                       preexec_fn=child_setup(), start_new_session=True)
            sessions.append(_Session(host, n, cpus, "{}:{}".format(target, server_port), process))
            try:
                code = _SUPERVISOR.encode()
                process.stdin.write("{}\n".format(len(code)) + _SUPERVISOR + secret + "\n")
                process.stdin.flush()
            except OSError:
                pass  # ssh already died: problem() reports it
        remote.wait_connected(sum(n for _, n in hosts), before, timeout)
    except BaseException:
        remote.stop()
        raise
    return remote
