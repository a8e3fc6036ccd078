"""treadle-cluster: a treadle server and workers through a batch scheduler.

    treadle-cluster start --slurm 4 --cpus 2 --time 1:00:00   # server here, 4 worker jobs
    treadle-cluster status                                     # the jobs and their workers
    treadle-cluster stop                                       # cancel the jobs, stop the server

Inside an allocation (a job script, salloc), ``treadle-cluster start`` without --slurm/--sge/
--pbs starts one worker per allocated host with the scheduler's launcher. docs/cluster.md.
"""

import argparse
import json
import sys

from . import commands
from .adapt_policy import parse_range
from .install import program as program_path
from .job_script import JobRequest
from .launcher import SchedulerError
from .launchers import launcher_for
from .secret_file import secret_file_path
from .state import ClusterState


def _positive(text):
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("a positive integer, not {!r}".format(text))
    return int(text)


def parser():
    p = argparse.ArgumentParser(prog="treadle-cluster", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    start = sub.add_parser("start", help="start (or reuse) a server and submit worker jobs")
    which = start.add_mutually_exclusive_group()
    # N may be left out with --adapt (it starts with MIN jobs): a bare flag gives 0.
    which.add_argument("--slurm", type=_positive, nargs="?", const=0, metavar="N",
                       help="submit N worker jobs to SLURM (sbatch)")
    which.add_argument("--sge", type=_positive, nargs="?", const=0, metavar="N",
                       help="submit N worker jobs to Grid Engine (qsub)")
    which.add_argument("--pbs", type=_positive, nargs="?", const=0, metavar="N",
                       help="submit N worker jobs to PBS/Torque (qsub)")
    start.add_argument("--adapt", type=_range, metavar="MIN:MAX",
                       help="grow and shrink between MIN and MAX worker jobs with the load (docs/cluster.md)")
    start.add_argument("--cpus", type=_positive, default=1, help="cpus per worker job (default 1)")
    start.add_argument("--time", help="walltime per job: minutes, H:MM:SS or D-HH:MM:SS")
    start.add_argument("--mem", help="memory per job, e.g. 4G")
    start.add_argument("--partition", help="SLURM partition, or the SGE/PBS queue")
    start.add_argument("--account", help="account to charge")
    start.add_argument("--pe", default="smp", help="Grid Engine parallel environment for --cpus > 1 (default smp)")
    start.add_argument("--server", metavar="HOST:PORT", help="use this running server (stop leaves it running)")
    start.add_argument("--host", help="address the new server listens on and jobs connect to "
                                      "(default: what this host's name resolves to)")
    start.add_argument("--port", type=int, default=0, help="port of the new server (default: any free one)")
    start.add_argument("--dry-run", action="store_true", help="print the job script, submit nothing")

    sub.add_parser("stop", help="cancel the jobs, stop the workers and the server that start started")
    remove = sub.add_parser("remove", help="retire N workers, the least busy first: they hand off their data and stop")
    remove.add_argument("count", type=_positive, metavar="N")
    sub.add_parser("adapt-loop", help=argparse.SUPPRESS)
    status = sub.add_parser("status", help="the server, each job's state and the worker it became")
    status.add_argument("--json", action="store_true", help="as JSON")
    sub.add_parser("address", help="print the server's HOST:PORT (for clients)")
    for s in sub.choices.values():
        s.add_argument("--name", default="default", help="several clusters side by side (default 'default')")
        s.add_argument("--secret-file", help="the secret file the jobs read (default: $TREADLE_SECRET_FILE or "
                                             "~/.local/share/treadle/secret); must be 0600")
    return p


def _range(text):
    try:
        return parse_range(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e))


def _scheduler(args):
    for name in ("slurm", "sge", "pbs"):
        count = getattr(args, name)
        if count is not None:
            if count == 0 and args.adapt is None:
                raise ValueError("--{}: how many worker jobs? (--{} N, or --adapt MIN:MAX)".format(name, name))
            return name, count or None
    return None, None


def main(argv=None):
    args = parser().parse_args(argv)
    say = print
    try:
        if args.command == "start":
            scheduler, count = _scheduler(args)
            if args.dry_run:
                if not scheduler:
                    raise ValueError("--dry-run shows a worker job's script: give --slurm, --sge or --pbs")
                request = JobRequest(count or 1, "SERVER_HOST:PORT", secret_file_path(args.secret_file), cpus=args.cpus,
                                     time=args.time, mem=args.mem, partition=args.partition, account=args.account,
                                     name="treadle-" + args.name, worker=program_path("treadle-worker"),
                                     parallel_env=args.pe)
                sys.stdout.write(launcher_for(scheduler).script(request))
                return 0
            commands.start(args.name, scheduler, count, cpus=args.cpus, time_limit=args.time, mem=args.mem,
                           partition=args.partition, account=args.account, server=args.server, host=args.host,
                           port=args.port, secret_file=args.secret_file, parallel_env=args.pe, adapt=args.adapt,
                           say=say)
        elif args.command == "remove":
            commands.remove(args.name, args.count, say=say)
        elif args.command == "adapt-loop":
            commands.adapt_loop(args.name, say=lambda line: print(line, flush=True))
        elif args.command == "stop":
            return 0 if commands.stop(args.name, say=say) else 1
        elif args.command == "status":
            text, data = commands.status(args.name)
            print(json.dumps(data, indent=1) if args.json else text)
            return 0 if data is not None else 1
        elif args.command == "address":
            state = ClusterState.load(args.name)
            if state is None or not state.server:
                raise ValueError("no cluster {!r} was started".format(args.name))
            print(state.server_address)
        return 0
    except (ValueError, RuntimeError, SchedulerError, OSError) as e:
        print("treadle-cluster: {}".format(e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
