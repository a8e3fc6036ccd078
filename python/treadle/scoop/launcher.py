"""``python3 -m treadle.scoop``: a server and workers, then the program as ``__main__``.

Hosts follow SCOOP's rules: ``--hostfile`` (``host [n]`` lines; a host without n gets one
worker per core, asked of the host) or ``--host a a b`` (a host named k times gets k workers);
``-n`` overrides the total: fewer workers are taken host by host in order, more are added round
robin. Inside a SLURM, PBS or Grid Engine allocation without hosts given, the scheduler's hosts
are used. Workers on this machine are started as local processes, the others over ssh
(treadle.remote: a shared file system is assumed); ``--prolog F`` is sourced before each starts."""

import collections
import ipaddress
import os
import runpy
import socket
import sys
import tempfile

from .. import remote
from ..cluster import LocalCluster
from ..deploy import hostlists
from . import pool, program, prolog

LOCAL_NAMES = {"localhost", "127.0.0.1", "::1"}


def hosts_of_list(names):
    """``--host a a b`` -> [("a", 2), ("b", 1)], in order of first mention."""
    return list(collections.Counter(names).items())


def distribute(hosts, total):
    """SCOOP's -n rule over [(host, n)]: returns [(host, n)] with ``total`` workers in all."""
    if total is None:
        return list(hosts)
    if total < 1:
        raise ValueError("-n must be at least 1, not {}".format(total))
    given = sum(n for _, n in hosts)
    if total <= given:    # batches by host, in order, until the total: later hosts may get none
        out, left = [], total
        for host, n in hosts:
            if left == 0:
                break
            out.append((host, min(n, left)))
            left -= out[-1][1]
        return out
    counts = [n for _, n in hosts]
    for i in range(total - given):   # one more on each host in turn
        counts[i % len(hosts)] += 1
    return [(host, n) for (host, _), n in zip(hosts, counts)]


def is_local(host):
    return host in LOCAL_NAMES or host in (socket.gethostname(), socket.getfqdn())


def expand_brackets(host, where):
    """A hostfile's ``node[01-03]`` (SLURM's bracket syntax, which SCOOP's hostfiles accept too)
    as its host names; another name as itself."""
    return hostlists.expand_nodelist(host, where) if "[" in host else [host]


def host_cores(host):
    """The number of cores of ``host``: this machine's, or asked of the host over ssh."""
    if is_local(host):
        return os.cpu_count() or 1
    return remote.host_cpu_count(host)


def choose_hosts(args, environ=os.environ, cores=host_cores):
    """[(host, workers)]: the hostfile's, the host list's, else a SLURM, PBS or Grid Engine
    allocation's (as SCOOP, the scheduler's slots per host), else this machine's. A hostfile
    line without a count gets ``cores(host)`` workers, as SCOOP starts one per core."""
    allocation = hostlists.allocation_hosts(environ) if not (args.hostfile or args.host) else None
    if args.hostfile:
        listed = [(name, n) for h, n in remote.parse_hostfile(args.hostfile, default=None)
                  for name in expand_brackets(h, args.hostfile)]
        hosts = [(h, cores(h) if n is None else n) for h, n in listed]
    elif args.host:
        hosts = hosts_of_list(args.host)
    elif allocation is not None:
        hosts = allocation.hosts
    else:
        hosts = [("127.0.0.1", args.n or os.cpu_count() or 1)]
    return distribute(hosts, args.n)


def is_loopback(name):
    """True if ``name`` resolves only to loopback addresses (127.0.0.1, ::1, localhost)."""
    try:
        found = {info[4][0] for info in socket.getaddrinfo(name, None)}
    except OSError:
        return False
    return bool(found) and all(ipaddress.ip_address(ip.split("%")[0]).is_loopback for ip in found)


def check_remote_reach(args, remote_hosts):
    """Before anything starts: workers on other hosts need an address of this machine they can
    reach, which the launcher's own options give (as SCOOP's launcher checks its hostname)."""
    names = ", ".join(h for h, _ in remote_hosts)
    if getattr(args, "tunnel", False):
        raise ValueError("-e/--tunnel (SCOOP's ssh tunnels to the broker) is not supported for workers on other "
                         "hosts ({}): give --external-hostname ADDRESS (or --broker-hostname), with ADDRESS "
                         "this machine's address on their network".format(names))
    if args.external_hostname and is_loopback(args.external_hostname):
        raise ValueError("--external-hostname (or --broker-hostname) {} is a loopback address, which workers on {} "
                         "cannot reach: give this machine's address on their network, or leave the option out "
                         "to listen on all addresses".format(args.external_hostname, names))


def run(args):
    """Starts the pool, runs the program, stops the pool; returns the exit status."""
    path = os.path.abspath(args.program)
    if not os.path.isfile(path):
        raise SystemExit("treadle.scoop: no program {!r}".format(args.program))
    hosts = choose_hosts(args)
    local = sum(n for h, n in hosts if is_local(h))
    remote_hosts = [(h, n) for h, n in hosts if not is_local(h)]
    if remote_hosts:
        check_remote_reach(args, remote_hosts)
    prolog_path = prolog.checked(args.prolog) if args.prolog else None
    os.environ[program.ENVIRONMENT] = path   # the workers' executors inherit it
    listen = (args.external_hostname or "0.0.0.0") if remote_hosts else "127.0.0.1"
    worker_args = ["--python", args.python_interpreter] if args.python_interpreter else []
    if remote_hosts:
        # Remote workers fetch objects from local ones too: these serve them on an address
        # the other hosts reach (by default a worker serves on its route to the server, here loopback).
        worker_args += ["--listen", args.external_hostname or remote.local_address_for(remote_hosts[0][0])]
    if args.pythonpath:
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [args.pythonpath, os.environ.get("PYTHONPATH")]))
    scratch = tempfile.TemporaryDirectory(prefix="treadle-scoop-")
    worker_program = prolog.worker_wrapper(prolog_path, scratch.name) if prolog_path else "treadle-worker"
    try:
        cluster = LocalCluster(workers=local, cpus=1, host=listen, worker_args=worker_args, quiet=args.verbose < 2,
                               worker_program=worker_program)
    except RuntimeError as error:
        scratch.cleanup()
        if prolog_path:
            raise ValueError("{} (did the prolog {} fail?)".format(error, prolog_path))
        raise
    started = None
    try:
        if remote_hosts:
            started = remote.start_remote_workers(cluster.address, remote_hosts, cpus=1,
                                                  python=args.python_interpreter or "/usr/bin/python3",
                                                  prolog=prolog_path)
        if args.verbose:
            print("treadle.scoop: {} workers: {}".format(sum(n for _, n in hosts), ", ".join(
                "{} ({})".format(h, n) for h, n in hosts)), file=sys.stderr)
        os.environ["TREADLE_ADDRESS"] = "{}:{}".format(*cluster.address)
        sys.argv = [path] + list(args.arguments)
        sys.path.insert(0, os.path.dirname(path))
        unalias = program.alias_in_root()   # the workers' classes of the program are __main__'s here
        try:
            runpy.run_path(path, run_name="__main__")
        except SystemExit as end:
            return end.code if isinstance(end.code, int) else (0 if end.code is None else 1)
        except Exception as error:   # uncaught: shown and ended as Python does, status 1
            program.report_uncaught(error, path)
            return 1
        finally:
            unalias()
        return 0
    finally:
        pool.close()
        if started is not None:
            started.stop()
        cluster.close()
        scratch.cleanup()
