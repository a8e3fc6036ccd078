"""``%treadle graph``, ``%treadle trace`` and ``%treadle why``: the task graph, what ran where and
when, and why a task is where it is."""

import argparse
import os

from IPython import get_ipython
from IPython.core import magic_arguments
from IPython.core.error import UsageError
from IPython.display import display

from .. import api
from ..core import lineage, walk
from ..core.address import server_key
from ..core.client import TaskHandle
from ..notebook import displays
from ..widgets import gantt, graph as graph_widget, rain_parts, task_graph
from . import declare, submit
from .cluster import session
from .declare import command, one_line, option


@command("graph")
@magic_arguments.magic_arguments("treadle graph")
@option("expr", nargs="*", metavar="EXPR", help="futures, tasks, lists or dicts of them, a %%%%treadle submit "
        "handle (default: what the last cell submitted)")
@option("--expand", metavar="GROUP", help="draw that label group task by task")
def graph(args):
    """%treadle graph draws the task graph of EXPR, else of what the last cell submitted: nodes
    coloured by label group (the text before the first ':'), their state as the border and
    shade, live while they run; hover for details. Above 2000 tasks one node per label group
    (click one to see its tasks)."""
    this = declare.COMMANDS["graph"]
    session()
    if args.expr:
        expr = " ".join(args.expr)
        try:
            value = get_ipython().ev(expr)
        except Exception as e:
            raise this.fail("%treadle graph {}: {}: {}".format(expr, type(e).__name__, one_line(e))) from None
        found = graph_widget.collect(value, connection_for=displays.session_connection)
        if not len(found):
            made = submit.made_by(expr.strip(), value)
            if made is not None:
                found = task_graph.from_ids(*made, connection_for=displays.session_connection)
        if not len(found):
            raise this.fail("%treadle graph {}: no tasks or futures there".format(expr))
    else:
        submissions = lineage.last_submission()
        if not submissions:
            raise this.fail("%treadle graph: nothing was submitted yet; give an expression")
        found = task_graph.from_submissions(submissions, connection_for=displays.session_connection)
    try:
        view = graph_widget.GraphView(found, expand=args.expand).refresh(details=True)
    except ValueError as e:   # an --expand group the graph does not have
        raise UsageError("%treadle graph: {}".format(one_line(e))) from None
    displays.display_graph(view)


@command("trace")
@magic_arguments.magic_arguments("treadle trace")
@option("--all", action="store_true", help="the whole session: every run the server remembers")
@option("--live", action="store_true", help="follow the run going on: the trace grows while it runs and ends "
        "as the trace of the whole run")
@option("--last", action="store_true", help=argparse.SUPPRESS)   # the default now, as bare: old notebooks say it
@option("--record", metavar="PATH", help="the server appends every event to PATH/server.trace.jsonl from now on "
        "(python3 -m treadle.report PATH makes a report of it); PATH is a directory, made if its parent exists")
@option("--stop", action="store_true", help="stop the recording")
def trace(args):
    """%treadle trace shows what ran where and when in the last run (what the last cell that
    submitted tasks ran; --all: the whole session; --live: the run going on, growing as it
    runs): one lane per worker lane, tasks coloured by label group, transfers as arrows; wheel
    to zoom, drag to pan, the scrubber replays the run."""
    this = declare.COMMANDS["trace"]
    if sum((args.last or args.all or args.live, args.record is not None, args.stop)) > 1 or \
            sum((args.last, args.all, args.live)) > 1:
        raise this.fail("--all, --live, --record and --stop go one at a time")
    client = session().client()
    if args.record is not None:
        path = os.path.abspath(os.path.expanduser(args.record))
        problem = record_directory_problem(path)
        if problem:
            raise UsageError("treadle: cannot record into {}: {}".format(path, problem))
        try:
            client.set_trace(path)
        except Exception as e:
            raise UsageError("treadle: cannot record into {}: {}".format(path, one_line(e))) from None
        print("treadle: recording every event into {}/server.trace.jsonl (python3 -m treadle.report {} makes a "
              "report; %treadle trace --stop ends it)".format(path, path))
        return None
    if args.stop:
        client.connection.record_trace("")
        print("treadle: the trace recording stopped (the recent events stay in memory: %treadle trace)")
        return None
    here = server_key(session().address)
    displays.send_pending_calls()
    submissions = [s for s in lineage.last_submission() if s.server == here]
    if args.live:
        displays.show_live_trace(client)
        return None
    if submissions and not args.all:
        displays.show_last_run(client, submissions)
        return None
    data = client.trace(gantt.EVENT_LIMIT)
    display(gantt.TraceView(data, title="trace of the whole session").bundle(), raw=True)
    return None


def record_directory_problem(path):
    """Why ``path`` cannot be --record's directory, or None. The server would make every missing
    directory on the way, so a typo or a file name (x.json) would silently become directories."""
    if os.path.isdir(path):
        return None
    if os.path.exists(path):
        return "it is a file; --record takes a directory, where the server writes server.trace.jsonl"
    if os.path.splitext(path)[1]:
        return ("a name with a suffix reads as a file; --record takes a directory, where the server writes "
                "server.trace.jsonl (make the directory first to use that name)")
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        return "the directory {} does not exist (--record makes only the last directory of PATH)".format(parent)
    return None


@command("why")
@magic_arguments.magic_arguments("treadle why")
@option("expr", nargs="+", metavar="EXPR", help="a future (native, HyperLoom's, SCOOP's), a Rain task or data object, "
        "a list or dict of them, or a %%%%treadle submit handle")
def why(args):
    """%treadle why EXPR tells why each task of EXPR is where it is: its recent transitions with
    times, the worker involved and the reasons placement recorded, its failure, and for a task
    still waiting why it is not running now (its inputs, its cpu request, the workers)."""
    this = declare.COMMANDS["why"]
    expr = " ".join(args.expr)
    try:
        value = get_ipython().ev(expr)
    except Exception as e:
        raise this.fail("%treadle why {}: {}: {}".format(expr, type(e).__name__, one_line(e))) from None
    if hasattr(value, "futures") and isinstance(value.futures, dict):   # a %%treadle submit handle
        value = value.futures
    by_client = {}
    for client, handle in storied(value):
        by_client.setdefault(id(client), (client, []))[1].append(handle)
    if not by_client:
        raise this.fail("%treadle why {}: no futures there".format(expr))
    for client, futures in by_client.values():
        try:
            print(client.story(futures))
        except Exception as e:
            raise UsageError("%treadle why {}: {}".format(expr, one_line(e))) from None


def storied(value):
    """(client, future or handle or task id) for each task of ``value`` whose story its client
    can tell: native and HyperLoom futures, SCOOP's (by their handle), Rain's submitted tasks and
    data objects, in lists, tuples, sets and dicts."""
    kinds = (api.Future, TaskHandle, task_graph.StandsForATask, rain_parts.TASKS)
    for x in walk.leaves(value, kinds, max_depth=32):
        if isinstance(x, (api.Future, TaskHandle)):
            yield x.client, x
        elif isinstance(x, rain_parts.TASKS):
            parts = rain_parts.parts(x)
            for task_id in parts.ids:
                yield parts.client, task_id
        else:   # a SCOOP future
            handle = x.__treadle_handle__
            yield handle.client, handle
