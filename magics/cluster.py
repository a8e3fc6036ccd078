"""``%treadle workers``, ``status`` and ``stop``: the workers of this kernel and what they run."""

import os
import shlex
import sys
import time

from IPython.core import magic_arguments
from IPython.core.error import UsageError
from IPython.display import display

from ..core.task import MAX_CPUS   # the most a task asks for: a worker offering more could never use them
from ..notebook import kernel
from . import declare, rain_sessions
from .declare import command, one_line, option, plural, positive
from ..deploy.adapt_policy import parse_range
from .status_report import StatusReport


def session():
    s = kernel.session()
    if s is None:
        raise UsageError("treadle is not set up in this kernel: run %load_ext treadle")
    return s


@command("workers")
@magic_arguments.magic_arguments("treadle workers")
@option("count", nargs="?", metavar="N", type=positive, help="local workers to start")
@option("--cpus", type=positive, metavar="C", help="cpus of each worker (default 1)")
@option("--hosts", metavar="a,b:2", help="start workers on other hosts over ssh: host or host:n, n workers there")
@option("--hostfile", metavar="FILE", help="hosts from a file in SCOOP's format: `host [n]` per line")
@option("--python", metavar="PATH", help="the Python on the other hosts (default /usr/bin/python3)")
@option("--ssh-args", metavar="ARGS", help="more arguments for ssh, quoted")
@option("--slurm", type=positive, nargs="?", const=0, metavar="J", help="submit J worker jobs to SLURM (sbatch)")
@option("--sge", type=positive, nargs="?", const=0, metavar="J", help="submit J worker jobs to Grid Engine (qsub)")
@option("--pbs", type=positive, nargs="?", const=0, metavar="J", help="submit J worker jobs to PBS/Torque (qsub)")
@option("--adapt", metavar="MIN:MAX", help="with --slurm/--sge/--pbs: grow and shrink between MIN and MAX jobs "
                                          "with the load")
@option("--remove", type=positive, metavar="N", help="retire N workers, the least busy first (they hand their "
                                                   "results to the others, then stop)")
@option("--partition", metavar="P", help="the jobs' partition (SLURM) or queue (SGE, PBS)")
@option("--time", metavar="T", help="the jobs' walltime, e.g. 1:00:00")
@option("--mem", metavar="M", help="the jobs' memory, e.g. 4G")
@option("--account", metavar="A", help="the account the jobs are charged to")
@option("--stop", action="store_true", help="stop the workers started from this kernel, here and elsewhere")
def workers(args):
    """%treadle workers N starts N local worker processes connected to this kernel's treadle
    server and waits until they are connected; without it, the first task submitted starts one
    worker per core (auto_workers in %treadle config). --hosts / --hostfile start workers on
    other hosts over ssh (keys or an agent); they connect back to this kernel's server, which
    must listen on an address they reach: start the kernel with TREADLE_KERNEL_HOST=ADDRESS (or
    0.0.0.0). --slurm / --sge / --pbs J submit J worker jobs to a batch scheduler and show them
    as they join (interrupting stops the waiting, not the jobs); their workers read the secret
    from a 0600 file on the shared file system (the per-user one or $TREADLE_SECRET_FILE).
    --adapt MIN:MAX (with --slurm, --sge or --pbs, J optional) submits MIN jobs, then more when
    the ready tasks outgrow the workers and retires idle ones, up to MAX. --remove N retires N
    workers gracefully (more than are connected is refused). --stop stops the workers started
    from this kernel and cancels its jobs."""
    this = workers_command()
    tell_lost_workers(session())
    remote = args.hosts is not None or args.hostfile is not None
    batch = [(name, n) for name, n in (("slurm", args.slurm), ("sge", args.sge), ("pbs", args.pbs)) if n is not None]
    job_options = [args.partition, args.time, args.mem, args.account]
    if args.remove is not None:
        if args.count is not None or remote or batch or args.stop or args.adapt or any(job_options):
            raise this.fail("--remove N goes alone")
        return retire_workers(args.remove)
    if args.stop:
        if args.count is not None or remote or batch or args.cpus or args.python or args.ssh_args or any(job_options) \
                or args.adapt:
            raise this.fail("--stop goes alone")
        return stop_workers()
    if args.adapt is not None and not batch:
        raise this.fail("--adapt goes with --slurm, --sge or --pbs")
    if batch:
        if len(batch) > 1 or args.count is not None or remote or args.python or args.ssh_args:
            raise this.fail("--slurm, --sge and --pbs go alone, without N, --hosts or --hostfile")
        if args.adapt is not None:
            return adapt_worker_jobs(args, this, *batch[0])
        if not batch[0][1]:
            raise this.fail("--{}: how many jobs? (--{} J, or --adapt MIN:MAX)".format(batch[0][0], batch[0][0]))
        return submit_worker_jobs(args, *batch[0])
    if any(job_options):
        raise this.fail("--partition, --time, --mem and --account go with --slurm, --sge or --pbs")
    if remote:
        if args.count is not None or (args.hosts is not None and args.hostfile is not None):
            raise this.fail("--hosts or --hostfile (one of them) says where the workers start: leave N out")
        return start_remote_workers(args, this)
    if args.python is not None or args.ssh_args is not None:
        raise this.fail("--python and --ssh-args go with --hosts or --hostfile")
    if args.count is None:
        raise this.fail("how many workers? (%treadle workers N)")
    limit = local_worker_limit()
    if args.count > limit:
        # A typo (999 for 9) would start processes until the host chokes: each worker is a
        # process with a Python executor.
        raise UsageError("treadle: %treadle workers {}: at most {} local workers on this host ({} cpu{}); "
                         "nothing was started".format(args.count, limit, os.cpu_count() or 1,
                                                      plural(os.cpu_count() or 1)))
    if args.cpus is not None and args.cpus > MAX_CPUS:
        raise this.fail("--cpus {}: a worker offers at most {} cpus".format(args.cpus, MAX_CPUS))
    cpus = args.cpus or 1
    s = session()
    try:
        started = s.start_workers(args.count, cpus=cpus)
    except (RuntimeError, TimeoutError, OSError) as e:
        raise UsageError("treadle: workers did not start: {}".format(one_line(e))) from None
    n = len(started)
    print("treadle: started {} local worker{} with {} cpu{}{} (pid{} {}), connected to {}:{} ({})".format(
        n, plural(n), cpus, plural(cpus), " each" if n > 1 else "", plural(n), ", ".join(str(w.pid) for w in started),
        s.address[0], s.address[1], s.where))
    return None


def local_worker_limit():
    """The most local workers one ``%treadle workers N`` starts: 8 per core, at least 64 (enough to
    demo oversubscription; the benchmarks run 32 on 2 cores)."""
    return max(64, 8 * (os.cpu_count() or 1))


def workers_command():
    return declare.COMMANDS["workers"]


def stop_workers():
    s = session()
    remote = s.stop_remote_workers()
    jobs = s.cancel_worker_jobs()
    count = s.stop_workers()
    elsewhere = (["{} on other hosts".format(remote)] if remote else []) + (
        ["cancelled {} job{}".format(jobs, plural(jobs))] if jobs else [])
    print("treadle: stopped {} local worker{}{}".format(count, plural(count), "".join(
        " and " + part for part in elsewhere)))
    try:
        if not s.status()["workers"]:
            print("treadle: no workers connected now: tasks wait until some are (%treadle workers N)")
    except Exception:
        pass
    return None


def start_remote_workers(args, this):
    try:
        from .. import remote  # deliberate: optional, an installation may lack it (the error says so)
    except ImportError as e:
        raise UsageError("workers on other hosts need treadle.remote, which this installation lacks ({})".format(
            one_line(e))) from None
    try:
        hosts = remote.parse_hostfile(args.hostfile) if args.hostfile is not None else remote.parse_hosts(args.hosts)
    except OSError as e:
        raise UsageError("cannot read the hostfile: {}".format(one_line(e))) from None
    except ValueError as e:
        raise this.fail(one_line(e)) from None
    try:
        ssh_args = shlex.split(args.ssh_args or "")
    except ValueError as e:
        raise this.fail("--ssh-args: {}".format(e)) from None
    s = session()
    listen = s.listen_address[0]
    try:
        started = s.start_remote_workers(hosts, cpus=args.cpus or 1, python=args.python or "/usr/bin/python3",
                                         ssh_args=ssh_args)
    except ValueError as e:
        message = one_line(e)
        if "loopback" in message and listen.startswith(("127.", "::1", "localhost")):
            message = ("this kernel's server listens on {} only, which workers on {} cannot reach: start the "
                       "kernel with TREADLE_KERNEL_HOST set to an address they reach (or 0.0.0.0)".format(
                           listen, ", ".join(h for h, _ in hosts)))
        raise UsageError(message) from None
    except Exception as e:  # RemoteWorkerError (ssh failed, workers exited), OSError (no ssh)
        details = str(e).strip().splitlines()[1:]
        if details:
            print("\n".join(details), file=sys.stderr)
        raise UsageError("treadle: remote workers did not start: {}".format(one_line(e))) from None
    print("treadle: started " + started.describe())
    return None


def retire_workers(count):
    s = session()
    # A typo (--remove 99 for --remove 9) must not retire every worker: more than there are is refused.
    try:
        active = [w for w in s.status()["workers"] if not w.get("retiring")]
    except Exception as e:  # the server is gone
        raise UsageError("treadle: {}".format(one_line(e))) from None
    if count > len(active):
        raise UsageError("treadle: --remove {}: {}; nothing was retired".format(
            count, "no worker is connected" if not active else "only {} worker{} {} connected".format(
                len(active), plural(len(active)), "is" if len(active) == 1 else "are")))
    try:
        names = s.retire_workers(count)
        staying = [w for w in s.status()["workers"] if not w.get("retiring")]
    except Exception as e:  # the server refused
        raise UsageError("treadle: {}".format(one_line(e))) from None
    if not names:
        print("treadle: no worker to retire")
    elif staying:
        print("treadle: retiring {}: each hands its results to the others, then stops".format(", ".join(names)))
    else:
        print("treadle: retiring {}: no other worker stays, so the results only {} held are computed again when "
              "a worker joins (%treadle workers N), and tasks wait for one".format(
                  ", ".join(names), "it" if len(names) == 1 else "they"))


def adapt_worker_jobs(args, this, scheduler, count):
    try:
        minimum, maximum = parse_range(args.adapt)
    except ValueError as e:
        raise this.fail(one_line(e)) from None
    if count and count != minimum:
        raise this.fail("with --adapt, the jobs start at MIN: leave J out")
    s = session()
    try:
        # What the loop does goes to the kernel's log, not into whichever cell runs then;
        # %treadle status shows the jobs and workers.
        s.adapt_worker_jobs(scheduler, minimum, maximum,
                            say=lambda line: print("treadle: " + line, file=sys.__stderr__, flush=True),
                            cpus=args.cpus or 1, time=args.time, mem=args.mem, partition=args.partition,
                            account=args.account)
    except ValueError as e:
        raise UsageError("treadle: {}".format(one_line(e))) from None
    except Exception as e:
        raise UsageError("treadle: the {} jobs were not submitted: {}".format(scheduler, one_line(e))) from None
    print("treadle: adapting between {} and {} {} jobs with the load; their workers connect to {}:{} "
          "(%treadle workers --stop ends it)".format(minimum, maximum, scheduler, *s.listen_address))
    return None


def submit_worker_jobs(args, scheduler, count):
    s = session()
    try:
        jobs = s.submit_worker_jobs(scheduler, count, cpus=args.cpus or 1, time=args.time, mem=args.mem,
                                    partition=args.partition, account=args.account)
    except ValueError as e:         # no secret file, an address the jobs cannot reach
        raise UsageError("treadle: {}".format(one_line(e))) from None
    except Exception as e:          # SchedulerError (sbatch refused), OSError (no sbatch)
        raise UsageError("treadle: the {} jobs were not submitted: {}".format(scheduler, one_line(e))) from None
    print("treadle: submitted {} {} job{} ({}); their workers connect to {}:{}".format(
        count, scheduler, plural(count), ", ".join(jobs.ids), s.listen_address[0], s.listen_address[1]))
    try:
        watch_jobs(s, jobs)
    except KeyboardInterrupt:
        print("treadle: stopped waiting; the jobs stay (%treadle status shows them, %treadle workers --stop "
              "cancels them)")
    return None


def watch_jobs(s, jobs):
    """Shows the jobs and the workers they became, one line each, updated in place until every
    job has a worker, has ended, or will not start as requested (the scheduler says so)."""
    handle = None
    shown = None
    while True:
        states = jobs.states()
        joined = jobs.workers(s.status())
        text = jobs.describe(s.status(), states)
        if text != shown:
            shown = text
            if handle is None:
                handle = display({"text/plain": text}, raw=True, display_id=True)
            else:
                handle.update({"text/plain": text}, raw=True)
        ended = [j for j in jobs.ids if j not in joined and (j not in states or states[j].ended)]
        # A job the scheduler will not start (a request beyond the partition's limits, an error
        # state) is not waited for: the cell would wait forever.
        never = [j for j in jobs.never_starting(states) if j not in joined]
        if len(joined) + len(ended) + len(never) == len(jobs.ids):
            if ended:
                print("treadle: {} of {} jobs ended without a worker (their output: {})".format(
                    len(ended), len(jobs.ids), jobs.log_dir or "the scheduler's output files"), file=sys.stderr)
            if never:
                print("treadle: {} of {} jobs will not start as requested ({}); they stay queued until the "
                      "request or the limits change: %treadle workers --stop cancels them".format(
                          len(never), len(jobs.ids), "; ".join("{} job {}: {}, {}".format(
                              jobs.scheduler, j, states[j].describe(), states[j].never_starts) for j in never)),
                      file=sys.stderr)
            return
        time.sleep(0.25)


@command("status")
@magic_arguments.magic_arguments("treadle status")
def status(args):
    """%treadle status: the server's workers, their cpus, tasks by state and memory held, as a table;
    the sessions of each Rain client of this kernel (open, failed, closed)."""
    s = session()
    local = {w.pid: w for w in s.alive_workers()}
    answer = s.status()
    tell_lost_workers(s, answer)
    return StatusReport(answer, s.address, s.where, local, jobs=s.describe_worker_jobs(),
                        sessions=rain_sessions.describe())


def tell_lost_workers(s, status=None):
    """Workers the server lost while no cell was there to say it (docs/kernel.md), once."""
    for line in s.lost_worker_lines(status):
        print(line, file=sys.stderr)


@command("stop")
@magic_arguments.magic_arguments("treadle stop")
def stop(args):
    """%treadle stop cancels every task this kernel submitted that has not ended (their
    futures are released; the server stops work nobody needs). Finished results stay."""
    session()
    report = kernel.cancel_all()
    # The server's count: the tasks it cancelled, inputs nobody else needed included.
    # Failed ones had ended too, but no result of theirs stays.
    finished = report.ended - report.failed
    kept = " ({} had ended: their results stay)".format(finished) if finished else ""
    if report.cancelled:
        print("treadle: cancelled {} task{}{}".format(report.cancelled, plural(report.cancelled), kept))
    else:
        print("treadle: nothing to cancel: no task of this kernel is waiting or running{}".format(kept))
