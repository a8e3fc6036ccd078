"""``%%treadle submit``: runs the cell, submits the graph it built (with any API, Rain's
sessions included), follows it with a progress line, and binds the results under the cell's names.

What "bind" means per API (docs/kernel.md): native futures and SCOOP futures become their
``result()``; HyperLoom's tasks are submitted and their futures become their ``gather()``d
values; Rain's objects stay under their names (their sessions submit, fetch what was kept);
IPython's ``TaskClient.run`` gives integer ids, not futures: nothing to bind (``barrier``)."""

import ast
import contextlib
import inspect
import time

from IPython import get_ipython
from IPython.core import magic_arguments
from IPython.core.error import UsageError

from .. import api
from ..core import lineage, walk
from ..core.address import server_key
from ..core.client import Cancelled, TaskHandle
from ..core.errors import LoomException, TaskFailed
from ..rain.common import RainException
from ..core.task import Task
from ..loom.client import Client as LoomClient
from ..scoop import futures as scoop_futures
from ..notebook import kernel
from ..notebook.options import options
from ..widgets.progress import GROUP_BARS_ABOVE, Progress
from ..widgets.task_graph import group_of
from . import declare
from .cluster import session
from .declare import command, one_line, option
from .failure_line import AtItsLine
from .rain_submit import RainPart
from .rain_submit import KINDS as RAIN_KINDS

KINDS = (Task, api.Future, TaskHandle, scoop_futures.Future)   # HyperLoom's futures are TaskHandles
DEPTH = 32                         # containers opened, at most, looking for tasks and futures
PLAN_PROGRESS_LIMIT = 200_000      # tasks of a plan a progress line follows one by one
_made_by = {}   # name -> (id of the result bound there, server, task ids): %treadle graph NAME after a submit


def made_by(name, value):
    """(server, task ids) of the graph that made ``value``, if a submit bound it under ``name``."""
    made = _made_by.get(name)
    return made[1:] if made is not None and made[0] == id(value) else None


def _remember_maker(name, value, futures):
    ids, server = [], None
    for f in walk.leaves(futures, KINDS, DEPTH):
        handle = f if isinstance(f, (Task, TaskHandle)) else f.handle   # a native or SCOOP future's
        if handle is None or isinstance(handle, Task):
            continue
        server = server or server_key(handle.client.address)
        ids.append(handle.task_id)
    if ids:
        _made_by[name] = (id(value), server, ids)


def _handle(f):
    """The core TaskHandle of a native or SCOOP future (HyperLoom's futures are one)."""
    return f if isinstance(f, TaskHandle) else f.handle


def _cancelled(f):
    handle = _handle(f)
    return handle is not None and not isinstance(handle, Task) and handle.cancelled()


class Submission:
    """What ``%%treadle submit`` sent: ``futures`` (by the names the cell gave them),
    ``wait()`` (results into the namespace), ``results()``, ``cancel()``, ``done()``."""

    def __init__(self, title, graph, ns, progress, rain=None):
        self.title = title
        self.rain = rain            # the Rain objects' RainPart, or None
        self.futures = graph        # name (None: the last expression) -> structure of futures
        self.progress = progress
        self._ns = ns
        self._values = None
        tracker = kernel.tracker()
        self._cell = tracker.current() if tracker is not None else None   # the cell showing the line
        self._printed_before = self._cell.printed if self._cell is not None else 0

    def _flat(self):
        seen, out = set(), []
        for value in self.futures.values():
            for f in walk.leaves(value, KINDS, DEPTH):
                if id(f) not in seen:
                    seen.add(id(f))
                    out.append(f)
        return out

    def _by_client(self):
        """{(kind, client): futures}, kind "native", "scoop" or "loom" (a SCOOP future's client
        is its pool)."""
        by_client = {}
        for f in self._flat():
            key = ("native", f.client) if isinstance(f, api.Future) else \
                ("scoop", f.pool) if isinstance(f, scoop_futures.Future) else ("loom", f.client)
            by_client.setdefault(key, []).append(f)
        return by_client

    @staticmethod
    def _values_of(kind, client, group):
        __tracebackhide__ = True
        if kind == "native":
            return client.gather(group)
        if kind == "scoop":
            return scoop_futures.results(group)
        return client.fetch(group)   # HyperLoom's: released once all are in (gather)

    def results(self):
        """Waits; returns {name: structure with results in place of futures}."""
        __tracebackhide__ = True
        if self._values is None:
            by_client = self._by_client()
            values = {}
            tracker = kernel.tracker()
            # A future the cell cancelled itself is not waited for: it stays under its name.
            by_client = {key: [f for f in group if not _cancelled(f)] for key, group in by_client.items()}
            try:
                with tracker.followed_waits() if tracker is not None else contextlib.nullcontext():
                    for (kind, client), group in by_client.items():
                        if group:
                            values.update(zip(map(id, group), self._values_of(kind, client, group)))
                    if self.rain is not None:
                        self.rain.wait()    # Rain's objects stay under their names: fetch what was kept
            except (TaskFailed, LoomException, RainException) as error:
                if self.progress is not None:
                    if isinstance(error, TaskFailed):
                        self.progress.note_failed(error.task_id)  # the others go on: the line follows them
                    else:
                        self.progress.complete(failed=True)
                raise   # as .result() raises it: the task's own type, frames and chain
            if self.progress is not None:
                self.progress.complete()
                self._line_below_prints(tracker)
            for (kind, client), group in by_client.items():
                if kind == "loom" and group:
                    client.release(group)   # HyperLoom's gather: results leave the workers
            self._values = {name: walk.rebuild(value, lambda f: values.get(id(f), f), KINDS, DEPTH)
                            for name, value in self.futures.items()}
        return self._values

    def _line_below_prints(self, tracker):
        """One line per job, below what its tasks printed: if they printed after the line was
        shown, it moves to the end of the cell's output."""
        cell = self._cell
        if tracker is None or cell is None or tracker.current() is not cell:
            return
        tracker.flush_output()
        if cell.printed > self._printed_before:
            self.progress.move_to_end()

    def wait(self):
        """Waits, then binds the results under the cell's names; returns the last expression's
        result if the cell ended with one that named no variable."""
        __tracebackhide__ = True
        values = self.results()
        for name, value in values.items():
            if name is not None:
                self._ns[name] = value
                _remember_maker(name, value, self.futures.get(name))
        return values.get(None)

    def done(self):
        return self.progress is not None and self.progress.finished

    def cancel(self):
        """Cancels the tasks that have not ended; returns Cancelled(cancelled, ended) as the
        server counted them."""
        cancelled = ended = failed = 0
        if self.progress is not None:
            self.progress.cancelling()
        try:
            reports = [client.cancel([f.handle for f in group] if kind == "scoop" else group)
                       for (kind, client), group in self._by_client().items()]
            if self.rain is not None:
                reports.append(self.rain.cancel())
        finally:
            if self.progress is not None:
                # After the cancel: the line's last count reads its tasks "cancelled" then.
                self.progress.cancelled()
        for report in reports:
            cancelled += report.cancelled
            ended += report.ended
            failed += report.failed
        return Cancelled(cancelled, ended, failed)

    def __repr__(self):
        state = self.progress.text() if self.progress is not None else "submitted"
        return "<treadle submission {}>".format(state)


class _Nothing:
    pass


def _run_in_namespace(shell, source):
    """Runs ``source`` in the user namespace; returns (value of its last expression or
    _Nothing, the AST of that expression or None, the file name it ran under or None)."""
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    try:
        filename = shell.compile.cache(source, shell.execution_count)   # shown as "Cell In [n]"
    except Exception:
        filename = "<treadle submit>"
    ns = shell.user_ns
    exec(compile(tree, filename, "exec"), ns)
    if last is None:
        return _Nothing, None, filename
    return eval(compile(ast.Expression(last.value), filename, "eval"), ns), last.value, filename


def _names_of(expr):
    if isinstance(expr, ast.Name):
        return [expr.id]
    if isinstance(expr, ast.Tuple) and expr.elts and all(isinstance(e, ast.Name) for e in expr.elts):
        return [e.id for e in expr.elts]
    return None


def _loom_client(chosen, looms):
    """The client for the cell's HyperLoom tasks: --client, else the one its futures belong to,
    else the native default client's."""
    if chosen is not None:
        if isinstance(chosen, api.Client):
            return chosen.core
        if isinstance(chosen, LoomClient):
            return chosen
        raise UsageError("--client must name a treadle.Client or a treadle.loom.client.Client, not a {}".format(
            type(chosen).__name__))
    if looms:
        return looms[0].client
    return api.default_client().core


@command("submit", cell=True)
@magic_arguments.magic_arguments("%treadle submit")
@option("--name", metavar="NAME", help="bind a handle (.wait(), .results(), .cancel()) under NAME")
@option("--wait", action="store_true", help="wait, and bind the results under the cell's names (the default)")
@option("--no-wait", action="store_true", help="leave the futures under the cell's names")
@option("--client", metavar="VAR", help="submit HyperLoom tasks through that client (default: treadle's)")
def submit(args, cell):
    """%%treadle submit runs the cell, which builds a graph with any API (HyperLoom tasks from
    treadle.loom.client.tasks, @treadle.task calls and treadle.submit futures, or Rain's tasks,
    data objects and sessions), and submits what its last expression names (else every task or
    future the cell assigned to a name). A progress line follows the tasks. With --wait (the
    default) the results replace the tasks and futures under the names the cell assigned; Rain's
    objects stay (fetch what was kept)."""
    __tracebackhide__ = True  # a failed task shows its own frames, not the magic's
    this = declare.COMMANDS["submit"]
    shell = get_ipython()
    if args.wait and args.no_wait:
        raise this.fail("--wait or --no-wait, not both")
    name = args.name
    if name is not None and not name.isidentifier():
        raise this.fail("--name takes a Python name, not {!r}".format(name))
    if args.client is not None and args.client not in shell.user_ns:
        raise this.fail("--client {}: no such variable".format(args.client))
    session()
    ns = shell.user_ns
    before = {k: id(v) for k, v in ns.items()}
    source = shell.transform_cell(cell)
    value, last, filename = _run_in_namespace(shell, source)
    value = _maps_as_futures(ns, before, value)
    if value is not _Nothing and walk.holds(value, KINDS + RAIN_KINDS, DEPTH):
        names = _names_of(last)
        graph = {n: ns[n] for n in names} if names else {None: value}
    else:
        graph = {k: v for k, v in ns.items()
                 if not k.startswith("_") and before.get(k) != id(v) and walk.holds(v, KINDS + RAIN_KINDS, DEPTH)}
    if not graph:
        made = [k for k, v in ns.items() if before.get(k) != id(v) and inspect.isgenerator(v)]
        hint = " ({}: a generator of results, whose calls run already; read it with list(...))".format(
            ", ".join(made)) if made else ""
        raise UsageError("nothing to submit: the cell's last expression and the names it assigned hold no "
                         "tasks or futures" + hint)
    with AtItsLine(source, filename, graph, KINDS, DEPTH) as at_line:   # a failure: the cell's line, then the task's
        return _send(graph, ns, name, args, at_line)


def _maps_as_futures(ns, before, value):
    """A SCOOP map the cell made and did not read (its generator, under a name it assigned or as
    its last expression) stands for its futures: the cell binds the list of their results."""
    for k, v in list(ns.items()):
        if before.get(k) != id(v) and scoop_futures.map_futures(v) is not None:
            ns[k] = scoop_futures.map_futures(v)
    futures = scoop_futures.map_futures(value)
    return value if futures is None else futures


def _send(graph, ns, name, args, at_line):
    __tracebackhide__ = True
    # What the graph holds: HyperLoom tasks (submitted now, in one plan), futures (sent already:
    # native and SCOOP futures are followed alike, as "natives").
    tasks, natives, looms, rains, seen = [], [], [], [], set()
    for v in graph.values():
        for x in walk.leaves(v, KINDS + RAIN_KINDS, DEPTH):
            if id(x) not in seen:
                seen.add(id(x))
                kind = tasks if isinstance(x, Task) else natives if isinstance(x, (api.Future, scoop_futures.Future)) \
                    else rains if isinstance(x, RAIN_KINDS) else looms
                kind.append(x)
    began = time.monotonic()
    rain = RainPart(rains) if rains else None
    if rain is not None:
        try:
            rain.submit()   # each session sends what the cell built in it
        except RainException as e:
            raise UsageError("treadle: the Rain graph was not submitted: {}".format(one_line(e))) from None
    plan = None   # (base, count): every task of the plan counts on the progress line
    loom_client = None
    if tasks:
        loom_client = _loom_client(ns.get(args.client) if args.client else None, looms)
        try:
            submitted = loom_client.submit(tasks)
        except LoomException as e:
            raise UsageError("treadle: the graph was not submitted: {}".format(one_line(e))) from None
        plan = loom_client.last_plan
        mapping = {id(t): f for t, f in zip(tasks, submitted)}
        looms = looms + list(submitted)
        graph = {k: walk.rebuild(v, lambda x: mapping.get(id(x), x), KINDS, DEPTH) for k, v in graph.items()}
        at_line.graph = graph   # their failures name the futures' tasks
    for c in {id(f.client): f.client for f in natives if isinstance(f, api.Future)}.values():
        c.flush()
    progress = _follow(name, natives, looms, plan, loom_client, began, rain)
    submission = Submission(name or "submit", graph, ns, progress, rain)
    if name is not None:
        ns[name] = submission
    if args.no_wait:
        for k, v in graph.items():
            if k is not None:
                ns[k] = v
        return graph.get(None)
    return submission.wait()


def _here(f):
    """A native or SCOOP future whose outcome is here already: nothing to follow (a SCOOP
    future releases its task once it took the value or the failure; a cancelled one is
    released too, but not "here": the line counts it cancelled)."""
    return not _cancelled(f) and (f.has_result() if isinstance(f, api.Future) else f.handle.released())


def _label_groups(natives, looms, plan, loom_client, rain=None):
    """{task id: label group} of the tasks a submission's line counts (for its group bars):
    the native futures, the HyperLoom futures and the whole ``plan`` (base, count) they came in,
    and Rain's tasks (named "a/b/c": group "a")."""
    out = {}
    for t in rain.followed() if rain is not None else ():
        out[t.handle.task_id] = group_of(t.core.label, t.core.task_type)
    for f in natives:
        if f.handle is not None:
            out[f.handle.task_id] = group_of(f.label if isinstance(f, api.Future) else f.fn_name, "")
    for f in looms:
        found = lineage.lookup(f.client.address, f.task_id)
        out[f.task_id] = group_of(found[0], found[1]) if found is not None else ""
    kinds = lineage.plan_kinds(loom_client.address, plan[0]) if plan is not None else None
    if kinds is not None:
        labels, types, pairs = kinds
        names = {}   # a group per (label, type) pair, worked out once
        for task, pair in enumerate(pairs, plan[0]):
            name = names.get(pair)
            if name is None:
                name = names[pair] = group_of(labels[pair[0]], types[pair[1]])
            out[task] = name
    return out


def _follow(name, natives, looms, plan, loom_client, began, rain=None):
    """The progress line of a submission, followed by the progress monitor of each server
    (``rain``: the RainPart of its Rain objects, or None)."""
    tracker = kernel.tracker()
    cell_record = tracker.current() if tracker is not None else None
    publisher = cell_record.publisher if cell_record is not None else None
    done = sum(1 for f in natives if _here(f))
    roots = {f.task_id for f in looms}
    # Every task of the plan counts, up to a size whose ids are cheap to watch one by one;
    # bigger plans count their named results.
    counted = plan is not None and plan[1] <= PLAN_PROGRESS_LIMIT
    more = [t for t in range(plan[0], plan[0] + plan[1]) if t not in roots] if counted else []
    rain_follow = rain.follow() if rain is not None else {}
    progress = Progress(name or "submit", len(natives) + len(looms) + len(more) + sum(map(len, rain_follow.values())),
                        done=done, publisher=publisher, interval=options.interval,
                        cancels_end_it=False)   # the cell's code may cancel some of its futures
    progress.started = began   # the rate counts from the submission
    cancelled = [f for f in natives if _cancelled(f)]   # by the cell itself: not followed, counted so
    natives = [f for f in natives if not _cancelled(f)]
    if progress.total >= GROUP_BARS_ABOVE:
        progress.set_groups(_label_groups(natives + cancelled, looms, plan if counted else None, loom_client, rain))
        progress.add(0, (), [f.handle.task_id for f in natives if _here(f) and f.handle is not None])
    if cancelled:
        progress.add(0, cancelled=[f.handle.task_id for f in cancelled])
    # Known to the cell and followed by the monitors before it is shown: an interrupt right as
    # it appears still ends it "cancelled" (the cell tracker cancels the lines it knows), with
    # the scheduler's count of what was cancelled (the monitor's last word on an ended line).
    if cell_record is not None:
        cell_record.progress.append(progress)
    follow = {}
    for f in natives:
        if not _here(f) and f.handle is not None:
            follow.setdefault(server_key(f.handle.client.address), []).append((f.handle.task_id, f.handle))
    for f in looms:
        follow.setdefault(server_key(f.client.address), []).append((f.task_id, f))
    for address, futures in rain_follow.items():
        follow.setdefault(address, []).extend(futures)
    s = session()
    plan_server = server_key(loom_client.address) if counted else None
    for address, futures in follow.items():
        try:
            s.monitor(address).track(progress, futures, more if address == plan_server else ())
        except Exception:
            pass  # no live updates: the line still shows the end
    progress.show()
    if not follow and progress.total == progress.done:
        progress.complete()
    return progress
