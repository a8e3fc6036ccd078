"""``treadle-cluster start``, ``stop`` and ``status`` as functions (the CLI in ``__main__``
parses arguments and prints).

Which server the workers join (the rule ``start`` follows):

1. ``server=HOST:PORT`` given: that server, which ``stop`` leaves running;
2. else, if this cluster name's state records a server that still answers: that one (a second
   ``start`` adds workers to the cluster the first made);
3. else a new ``treadle-server``, detached, listening on ``host`` (default: the address this
   host's name resolves to); ``stop`` stops it.
"""

import os
import subprocess
import sys
import time

from ..core.address import connect_host, parse as parse_address
from ..core.connection import Connection
from . import allocation
from .adapt import Adapter, idle_seconds, policy_for, retire_idlest
from .launcher import JobState
from .launchers import launcher_for
from .secret_file import secret_file_path
from .server_process import default_host, pid_alive, start_server, stop_process
from .state import ClusterState
from .worker_jobs import WorkerJobs, check_job_options, submit_workers

__all__ = ["adapt_loop", "remove", "server_status", "start", "status", "stop"]


def server_status(address, timeout=5.0):
    """The server's status (workers, tasks), or None if it does not answer."""
    host, port = parse_address(address)
    try:
        connection = Connection(connect_host(host), port, name="treadle-cluster", timeout=timeout, probe=True)
    except Exception:
        return None
    try:
        return connection.status()
    except Exception:
        return None
    finally:
        connection.close()


def _wait_for_launched(state, launches, wanted, say, timeout=60.0):
    """Workers launched on the allocation's own hosts start at once: ``start`` returns once they
    joined (they join when their Python executors are ready), so the job script's next line
    finds them (``wanted``: the workers then); after ``timeout`` s it says how many did."""
    deadline = time.monotonic() + timeout
    while True:
        status = server_status(state.server_address)
        joined = len(status["workers"]) if status else 0
        if joined >= wanted:
            return
        gone = [launch for launch in launches if not pid_alive(launch["pid"])]
        if gone or time.monotonic() > deadline:
            say("{} of {} workers joined{}; see the worker logs in {}".format(
                joined, wanted, " (a launcher ended)" if gone else " after {:g} s".format(timeout), state.log_dir))
            return
        time.sleep(0.1)


def _live_server(state):
    if not state or not state.server:
        return False
    if state.server.get("pid") and not pid_alive(state.server["pid"]):
        return False
    return server_status(state.server_address) is not None


def start(name="default", scheduler=None, count=None, cpus=1, time_limit=None, mem=None, partition=None,
          account=None, server=None, host=None, port=0, secret_file=None, parallel_env="smp", adapt=None,
          say=print):
    """Starts (or reuses) the server, then submits ``count`` worker jobs to ``scheduler``; with
    no scheduler, starts workers on the hosts of the allocation this runs in. ``adapt``: (MIN,
    MAX): then ``count`` defaults to MIN, and a detached loop submits and retires jobs with the
    load (``adapt.py``) until ``stop``. Returns the ``ClusterState``."""
    if adapt is not None:
        if not scheduler:
            raise ValueError("--adapt grows and shrinks worker jobs: give --slurm, --sge or --pbs")
        count = adapt[0] if count is None else count
        if not adapt[0] <= count <= adapt[1]:
            raise ValueError("--adapt {}:{}: the first {} jobs are outside that range".format(adapt[0], adapt[1], count))
        idle_seconds()   # a bad $TREADLE_ADAPT_IDLE fails here, not later in the detached loop
    secret = secret_file_path(secret_file)
    if scheduler:
        # Every argument is checked before anything starts: a typo (--time abc) found only at the
        # submission would leave a detached server behind.
        check_job_options(scheduler, secret, count=count or 1, cpus=cpus, time=time_limit, mem=mem, partition=partition,
                          account=account, name="treadle-" + name, parallel_env=parallel_env)
    state = ClusterState.load(name)
    if state is not None and not _live_server(state):
        if state.all_jobs() or state.launches:
            say("the recorded cluster {!r} has no live server any more: cancelling what it left".format(name))
            _cancel_all(state, say)
        state.remove()
        state = None
    if state is None:
        state = ClusterState(name)
        state.make_folders()
        if server:
            connect, port = parse_address(server)
            state.server = {"host": connect, "connect": connect, "port": port,
                            "pid": None, "log": None}
            if server_status(state.server_address) is None:
                raise RuntimeError("no treadle server answers at {} (with this secret)".format(server))
        else:
            listen = host or default_host()
            log = state.folder + "/server.log"
            pid, real_port = start_server(listen, port, secret, log)
            state.server = {"host": listen, "connect": listen, "port": real_port, "pid": pid, "log": log}
            say("server {} started (pid {}, log {})".format(state.server_address, pid, log))
        state.secret_file = secret
        state.save()
    else:
        say("using the running server {} of cluster {!r}".format(state.server_address, name))

    if scheduler and count:
        jobs = submit_workers(state.server_address, scheduler, count, cpus=cpus, time=time_limit, mem=mem,
                              partition=partition, account=account, secret_file=secret, log_dir=state.log_dir,
                              name="treadle-" + name, parallel_env=parallel_env)
        state.jobs.setdefault(scheduler, []).extend(jobs.ids)
        state.save()
        say("submitted {} {} job{}: {}".format(len(jobs.ids), scheduler, "" if len(jobs.ids) == 1 else "s",
                                                " ".join(jobs.ids)))
    elif not scheduler:
        already = len((server_status(state.server_address) or {"workers": []})["workers"])
        launches = allocation.start_workers(state.server_address, secret, state.log_dir, cpus_per_worker=None,
                                            say=say)
        state.launches.extend(launches)
        state.save()
        _wait_for_launched(state, launches, already + len(launches), say)
    if adapt is not None:
        _start_adapt_loop(state, scheduler, adapt, dict(cpus=cpus, time=time_limit, mem=mem, partition=partition,
                                                       account=account, parallel_env=parallel_env), say)
    say("clients connect to {}".format(state.server_address))
    return state


def _start_adapt_loop(state, scheduler, adapt, job_options, say):
    if state.adapt and state.adapt.get("pid") and pid_alive(state.adapt["pid"]):
        stop_process(state.adapt["pid"])
    log = os.path.join(state.folder, "adapt.log")
    state.adapt = {"min": adapt[0], "max": adapt[1], "scheduler": scheduler, "job": job_options, "log": log}
    state.save()
    env = dict(os.environ)
    env.pop("TREADLE_SECRET", None)
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "treadle.deploy", "adapt-loop", "--name", state.name],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env,
                                start_new_session=True, close_fds=True)
    state.adapt["pid"] = proc.pid
    state.save()
    say("adapting between {} and {} {} jobs (pid {}, log {})".format(adapt[0], adapt[1], scheduler, proc.pid, log))


def adapt_loop(name="default", say=print, interval=1.0):
    """The --adapt loop of cluster ``name`` (what ``start --adapt`` runs detached); returns when
    the server is gone."""
    state = ClusterState.load(name)
    if state is None or not state.adapt:
        raise ValueError("cluster {!r} has no --adapt range recorded".format(name))
    a = state.adapt
    scheduler, options = a["scheduler"], a["job"]
    host, port = parse_address(state.server_address)
    connection = Connection(connect_host(host), port, name="treadle-cluster adapt")

    def submit(n):
        return submit_workers(state.server_address, scheduler, n, secret_file=state.secret_file,
                              log_dir=state.log_dir, name="treadle-" + name, **options).ids

    def record(ids):
        fresh = ClusterState.load(name) or state   # status may have saved meanwhile
        fresh.jobs.setdefault(scheduler, []).extend(ids)
        fresh.save()

    launcher = launcher_for(scheduler)
    adapter = Adapter(connection, policy_for(a["min"], a["max"], cpus=options.get("cpus") or 1),
                      submit, launcher.states, launcher.cancel, job_ids=state.jobs.get(scheduler, []),
                      say=say, interval=interval, on_submitted=record)
    say("adapt: between {} and {} workers, polling {} every {:g} s".format(a["min"], a["max"], state.server_address,
                                                                           interval))
    failures = 0
    while failures < 10:
        try:
            adapter.poll()
            failures = 0
        except Exception as e:  # a scheduler command failing, the server going away
            failures += 1
            say("adapt: {}".format(e))
        time.sleep(interval)
    say("adapt: the server stopped answering; the loop ends")
    connection.close()


def remove(name="default", count=1, say=print):
    """Retires ``count`` workers of the cluster, the least busy first: each hands the objects
    still needed to the others and stops (its job ends). Returns their names."""
    state = ClusterState.load(name)
    if state is None or not state.server:
        raise ValueError("no cluster {!r} was started".format(name))
    host, port = parse_address(state.server_address)
    connection = Connection(connect_host(host), port, name="treadle-cluster")
    try:
        names = retire_idlest(connection, count)
    finally:
        connection.close()
    say("retiring {}".format(", ".join(names)) if names else "no worker to retire")
    return names


def _cancel_all(state, say, timeout=30.0):
    for scheduler, ids in state.jobs.items():
        if ids:
            launcher = launcher_for(scheduler)
            launcher.cancel(ids)
            deadline = time.monotonic() + timeout
            while True:
                running = [j for j, s in launcher.states(ids).items() if not s.ended]
                if not running:
                    break
                if time.monotonic() > deadline:
                    say("{} job{} still not ended after {:g} s: {}".format(
                        len(running), "" if len(running) == 1 else "s", timeout, " ".join(running)))
                    break
                time.sleep(0.2)
    for launch in state.launches:
        stop_process(launch["pid"])


def stop(name="default", say=print):
    """Cancels the cluster's jobs, stops its allocation workers and the server it started."""
    state = ClusterState.load(name)
    if state is None:
        say("no cluster {!r} was started (nothing recorded)".format(name))
        return False
    if state.adapt and state.adapt.get("pid"):
        stop_process(state.adapt["pid"])   # first, or it would submit jobs for the work left
    state = ClusterState.load(name)        # with the jobs the loop submitted
    _cancel_all(state, say)
    jobs = len(state.all_jobs())
    if jobs:
        say("cancelled {} job{}".format(jobs, "" if jobs == 1 else "s"))
    if state.launches:
        say("stopped the workers on {} host{}".format(len(state.launches), "" if len(state.launches) == 1 else "s"))
    if state.server and state.server.get("pid"):
        stop_process(state.server["pid"])
        say("server {} stopped".format(state.server_address))
    state.remove()
    return True


def status(name="default"):
    """``(text, data)``: the server, each job's scheduler state and the worker it became."""
    state = ClusterState.load(name)
    if state is None:
        return "no cluster {!r} was started (nothing recorded)".format(name), None
    info = server_status(state.server_address) if state.server else None
    lines = ["cluster {!r}: server {} {}".format(
        name, state.server_address,
        "not answering" if info is None else "with {} worker{} connected".format(
            len(info["workers"]), "" if len(info["workers"]) == 1 else "s"))]
    data = {"server": state.server_address, "alive": info is not None, "workers": info["workers"] if info else [],
            "jobs": {}}
    for scheduler, ids in state.jobs.items():
        jobs = WorkerJobs(scheduler, ids, state.server_address, state.log_dir)
        states = jobs.states()
        remembered = {j: JobState.from_json(s) for j, s in state.last_states.items()}
        for job, s in states.items():
            state.last_states[job] = s.to_json()
        lines.append(jobs.describe(info, states, remembered))
        workers = jobs.workers(info) if info else {}
        for job in ids:
            s = states.get(job) or remembered.get(job)
            data["jobs"][job] = {"scheduler": scheduler, "known": job in states,
                                 "state": s.to_json() if s else None,
                                 "worker": workers.get(job)}
    if state.adapt:
        lines.append("adapting between {} and {} {} jobs: {} (log {})".format(
            state.adapt["min"], state.adapt["max"], state.adapt["scheduler"],
            "running" if state.adapt.get("pid") and pid_alive(state.adapt["pid"]) else "not running",
            state.adapt.get("log")))
        data["adapt"] = state.adapt
    for launch in state.launches:
        lines.append("{} on {} (pid {}): {}".format(launch["how"], launch["host"], launch["pid"],
                                                   "running" if pid_alive(launch["pid"]) else "ended"))
    if state.jobs:
        state.save()
    return "\n".join(lines), data
