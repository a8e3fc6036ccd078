"""``python3 -m treadle.scoop [-n N] [--hostfile F | --host h ...] program.py args``: runs a SCOOP
program on a treadle pool (see launcher)."""

import argparse
import sys

from .. import remote
from . import launcher


def parse(argv):
    parser = argparse.ArgumentParser(prog="python3 -m treadle.scoop",
                                     description="Runs a SCOOP program on treadle workers.")
    parser.add_argument("-n", type=int, default=None, help="the number of workers (default: from the hosts, "
                        "or one per core)")
    parser.add_argument("--hostfile", help="a file of 'host [n]' lines")
    parser.add_argument("--host", default=None, help=argparse.SUPPRESS)   # read by hosts_before_program
    parser.add_argument("-v", "--verbose", action="count", default=0)
    # SCOOP's releases named this option --broker-hostname (the seed's), later --external-hostname.
    parser.add_argument("--external-hostname", "--broker-hostname", dest="external_hostname",
                        help="the address remote workers reach this machine on")
    # SCOOP's -e (later --tunnel): ssh tunnels towards the broker. Local workers need none; treadle
    # starts no tunnels for remote ones, so with remote hosts the launcher says so (launcher.run).
    parser.add_argument("-e", "--tunnel", action="store_true",
                        help="SCOOP's ssh tunnels: accepted for workers on this machine (they need none)")
    parser.add_argument("--python-interpreter", help="the Python of the workers' tasks")
    parser.add_argument("--pythonpath", help="prepended to the workers' PYTHONPATH")
    parser.add_argument("--prolog", help="a shell script sourced before each worker starts")
    parser.add_argument("program")
    parser.add_argument("arguments", nargs=argparse.REMAINDER)
    return parser.parse_args(argv)


def hosts_before_program(argv):
    """``--host a a b program.py``: argparse would take the program for a host; the hosts end
    at the first option or file name ending in .py."""
    argv = list(argv)
    if "--host" not in argv:
        return argv, None
    start = argv.index("--host") + 1
    end = start
    while end < len(argv) and not argv[end].startswith("-") and not argv[end].endswith(".py"):
        end += 1
    return argv[:start - 1] + argv[end:], argv[start:end]


def main(argv=None):
    argv, hosts = hosts_before_program(sys.argv[1:] if argv is None else argv)
    args = parse(argv)
    if hosts is not None:
        if not hosts:
            print("treadle.scoop: --host needs at least one host", file=sys.stderr)
            return 2
        args.host = hosts
    try:
        return launcher.run(args)
    except (ValueError, OSError, remote.RemoteWorkerError) as error:
        print("treadle.scoop: {}".format(error), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
