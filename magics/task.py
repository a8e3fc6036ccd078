"""``%%treadle task``: the cell's body runs as one Python task on a worker (treadle.runtime.cell)."""

from IPython import get_ipython
from IPython.core import magic_arguments
from IPython.core.error import UsageError

from .. import api
from ..core.local_traceback import raised_as_local
from ..runtime import code_strings
from ..runtime.cell import run_cell
from . import declare
from .cluster import session
from .declare import command, count, names, option, positive


@command("task", cell=True)
@magic_arguments.magic_arguments("%treadle task")
@option("--push", type=names, metavar="a,b", complete="names", help="variables the cell's namespace gets")
@option("--pull", type=names, metavar="x,y", complete="names", help="variables that come back into this namespace")
@option("--retries", type=count, default=0, metavar="N", help="re-run the body up to N more times when it raises")
@option("--cpus", type=positive, default=1, metavar="N", help="cpus the task reserves")
@option("--wait", action="store_true", help="wait for the task (the default)")
@option("--no-wait", action="store_true", help="return a future at once (its result: the pulled variables as a "
        "dict, else the last expression's value)")
def task(args, cell):
    """%%treadle task runs the cell body as one Python task on a worker, with the pushed variables
    in its namespace; the pulled variables come back into this namespace and the value of a last
    expression is shown."""
    __tracebackhide__ = True   # IPython: its errors are the cell's, not the magic's
    this = declare.COMMANDS["task"]
    if args.wait and args.no_wait:
        raise this.fail("--wait or --no-wait, not both")
    ns = get_ipython().user_ns
    pushed = {}
    for n in args.push or []:
        if n not in ns:
            raise UsageError("--push {}: name {!r} is not defined here".format(",".join(args.push), n))
        pushed[n] = ns[n]
    # A syntax error shows here, not on a worker; under the cell's own pseudo-file name, whose
    # lines (also those a failure on the worker names) are this cell's (runtime.code_strings).
    compile(cell, code_strings.remembered(code_strings.CELL, cell), "exec")
    s = session()
    client = api.default_client()  # starts the automatic workers if none are connected
    if args.cpus > 1 and tuple(client.address) == tuple(s.address):
        largest = max([w.get("cpus", 0) for w in s.status()["workers"]] or [0])
        if largest and largest < args.cpus:
            raise UsageError("--cpus {}: no connected worker has that many cpus (the largest has {}); "
                             "%treadle workers N --cpus {} starts some".format(args.cpus, largest, args.cpus))
    run = api.task(run_cell, label="cell", cpus=args.cpus, client=client)
    future = run(cell, pushed, args.pull or [], args.retries, "future" if args.no_wait else "both")
    if args.no_wait:
        client.flush()
        return future
    # A task's failure leaves with the task's frames only: the with statement re-raises it
    # without an entry for this frame (core.local_traceback).
    with raised_as_local:
        pulled, value = future.result()
    ns.update(pulled)
    return value
