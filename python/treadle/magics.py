"""The ``%treadle`` magics: the same in the treadle kernel and, after ``%load_ext treadle``, in
any IPython kernel.

    %treadle workers 4 [--cpus 2]          start 4 local workers (2 cpus each; default 1)
    %treadle workers --hosts a,b:2 ...     start workers on other hosts over ssh (or --hostfile FILE)
    %treadle workers --stop                stop the workers started from this kernel
    %treadle status                        workers, cpus, tasks by state, memory held (a table)
    %treadle stop                          cancel every task of this kernel still running
    %treadle graph [EXPR] [--expand GROUP]  the task graph of EXPR (else of the last submission), live
    %treadle trace [--last]                what ran where and when (Gantt chart with a replay scrubber)
    %treadle trace --record PATH | --stop  record every event into PATH on the server / stop recording
    %treadle config [KEY=VALUE ...]        show or set options
    %%treadle submit [--name N] [--no-wait]  submit the graph the cell builds, with a progress line
    %%treadle task [--push a,b] [--pull x]   run the cell as a task on a worker
    %treadle?                              help

IPython is imported only when the magics are registered, so ``import treadle`` stays light (the
executors import this module to run ``%%treadle task`` cells).
"""

import ast
import shlex
import time

_LINE_COMMANDS = {
    "workers": "workers N [--cpus C] | workers --hosts a,b:2 [--cpus C] [--python PATH] [--ssh-args ARGS] "
               "| workers --hostfile FILE [...] | workers --stop",
    "status": "status",
    "stop": "stop",
    "config": "config [KEY=VALUE ...] | config --reset",
    "graph": "graph [EXPR] [--expand GROUP]",
    "trace": "trace [--last] | trace --record PATH | trace --stop",
}
_CELL_COMMANDS = {
    "submit": "submit [--name NAME] [--wait | --no-wait] [--client VAR]",
    "task": "task [--push a,b] [--pull x,y] [--retries N] [--cpus N] [--no-wait]",
}
_SUBCOMMANDS = dict(_LINE_COMMANDS, **_CELL_COMMANDS)
USAGE = ("usage: %treadle " + " | %treadle ".join(_LINE_COMMANDS) + " | %%treadle " +
         " | %%treadle ".join(_CELL_COMMANDS) + "   (%treadle? for help)")

_OPTIONS = {
    "workers": ["--cpus", "--hosts", "--hostfile", "--python", "--ssh-args", "--stop"],
    "submit": ["--name", "--wait", "--no-wait", "--client"],
    "task": ["--push", "--pull", "--retries", "--cpus", "--no-wait", "--wait"],
    "config": ["--reset"],
    "graph": ["--expand"],
    "trace": ["--last", "--record", "--stop"],
}


def _usage(command):
    prefix = "%%treadle " if command in _CELL_COMMANDS else "%treadle "
    return "usage: " + prefix + _SUBCOMMANDS[command]


def load_ipython_extension(ipython):
    """``%load_ext treadle``: the magics and a treadle server for this kernel (in this process,
    unless the kernel is the treadle kernel, which embeds one)."""
    from . import kernel_support
    if kernel_support.session() is None:
        kernel_support.install_in_ipython(ipython)  # registers the magics too
    else:
        register(ipython)


def unload_ipython_extension(ipython):
    pass  # the server and workers stay until the kernel ends


def register(ipython):
    """Registers %treadle on an IPython shell (idempotent)."""
    ipython.register_magic_function(treadle_magic, "line_cell", "treadle")
    try:
        completer = ipython.Completer
        if not any(getattr(m, "_treadle", False) for m in completer.magic_arg_matchers):
            completer.magic_arg_matchers.append(_matcher(completer))
    except Exception:
        pass  # completion is a nicety


def treadle_magic(line, cell=None):
    """treadle: run task graphs on workers from this notebook.

    %treadle workers N [--cpus C]
        Start N local worker processes (C cpus each, default 1) connected to this kernel's
        treadle server, and wait until they are connected. Without this, the first task
        submitted starts one worker per core (see auto_workers in %treadle config).
    %treadle workers --hosts a,b:2,c [--cpus C] [--python PATH] [--ssh-args "ARGS"]
    %treadle workers --hostfile FILE [...]
        Start workers on other hosts over ssh (keys or an agent; SCOOP's hostfile format,
        `host [n]` per line, n workers on host). They connect back to this kernel's server,
        which must listen on an address they reach: start the kernel with
        TREADLE_KERNEL_HOST=ADDRESS (or 0.0.0.0). Prints what started where.
    %treadle workers --stop
        Stop the workers started from this kernel, here and on other hosts.
    %treadle status
        The server's workers, their cpus, tasks by state and memory held, as a table.
    %treadle stop
        Cancel every task this kernel submitted that is still running (their futures are
        released; the server stops work nobody needs). Finished results stay.
    %treadle graph [EXPR] [--expand GROUP]
        Draws the task graph of EXPR (futures, tasks, lists or dicts of them, a %%treadle submit
        handle), else of what the last cell submitted: nodes coloured by label group (the text
        before the first ':'), their state as the border and shade, live while they run; hover
        for details. Above 2000 tasks one node per label group (click one to see its tasks);
        --expand GROUP draws that group task by task.
    %treadle trace [--last]
        What ran where and when: one lane per worker lane, tasks coloured by label group,
        transfers as arrows; wheel to zoom, drag to pan, the scrubber replays the run. --last
        keeps the time of the last submission only.
    %treadle trace --record PATH | --stop
        The server appends every event to PATH/server.trace.jsonl from now on (python3 -m
        treadle.report PATH makes a report of it); --stop ends the recording.
    %treadle config [KEY=VALUE ...]
        Show the options, or set some: auto_workers (auto | N | off), cancel_on_interrupt
        (on | off: an interrupted cell's running tasks are cancelled), progress_interval
        (seconds between progress updates). `%treadle config --reset` restores the defaults.

    %%treadle submit [--name NAME] [--wait | --no-wait] [--client VAR]
        Runs the cell, which builds a graph with any API (HyperLoom tasks from
        treadle.loom.client.tasks, or @treadle.task calls and treadle.submit futures), and
        submits what its last expression names (else every task or future the cell assigned
        to a name). A progress line follows the tasks. With --wait (the default) the results
        replace the tasks and futures under the names the cell assigned; --no-wait leaves
        futures there. --name binds a handle (.wait(), .results(), .cancel()) under NAME;
        --client VAR submits HyperLoom tasks through that client (default: treadle's).
    %%treadle task [--push a,b] [--pull x,y] [--retries N] [--cpus N] [--no-wait]
        Runs the cell body as one Python task on a worker, with the pushed variables in its
        namespace; the pulled variables come back into this namespace and the value of a last
        expression is shown. --retries N re-runs the body up to N more times when it raises;
        --cpus N reserves N cpus; --no-wait returns a future at once (its result: the pulled
        variables as a dict, else the last expression's value).

    Interrupting a cell cancels the tasks it submitted that still run (cancel_on_interrupt).
    What tasks print appears in the cell that submitted them, each line marked with its task,
    also after the cell finished. In Python: ``import treadle``, then ``@treadle.task``
    functions return futures; ``treadle.default_client()`` is connected to this kernel's server.
    """
    __tracebackhide__ = True  # a dispatcher: the error of what it ran is what matters
    from IPython.core.error import UsageError
    try:
        args = shlex.split(line)
    except ValueError as e:
        raise UsageError("{}; {}".format(e, USAGE)) from None
    if not args:
        raise UsageError(USAGE)
    command, rest = args[0], args[1:]
    if cell is not None:
        if command == "submit":
            return _submit(rest, cell)
        if command == "task":
            return _task(rest, cell)
        if command in _LINE_COMMANDS:
            raise UsageError("{} is a line magic: %treadle {}".format(command, _LINE_COMMANDS[command]))
        raise UsageError("unknown sub-command {!r}; {}".format(command, USAGE))
    if command in _CELL_COMMANDS:
        raise UsageError("{0} is a cell magic: put %%treadle {1} on the first line of a cell".format(
            command, _CELL_COMMANDS[command]))
    if command == "workers":
        return _workers(rest)
    if command == "status":
        if rest:
            raise UsageError(_usage("status"))
        return _status()
    if command == "stop":
        if rest:
            raise UsageError(_usage("stop"))
        return _stop()
    if command == "config":
        return _config(rest)
    if command == "graph":
        return _graph(rest)
    if command == "trace":
        return _trace(rest)
    raise UsageError("unknown sub-command {!r}; {}".format(command, USAGE))


def _session():
    from . import kernel_support
    s = kernel_support.session()
    if s is None:
        from IPython.core.error import UsageError
        raise UsageError("treadle is not set up in this kernel: run %load_ext treadle")
    return s


# -- option parsing --------------------------------------------------------------------------

def _parse(args, spec, usage):
    """``spec``: option -> "flag" | "int" | "count" (>= 0) | "str" | "names". Returns
    (values by option, positional arguments); wrong usage raises a one-line UsageError."""
    from IPython.core.error import UsageError
    values, positional = {}, []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            key, eq, value = a.partition("=")
            kind = spec.get(key)
            if kind is None:
                raise UsageError("unknown option {}; {}".format(key, usage))
            if kind == "flag":
                if eq:
                    raise UsageError("{} takes no value; {}".format(key, usage))
                values[key] = True
            else:
                if not eq:
                    i += 1
                    if i >= len(args) or args[i].startswith("--"):
                        raise UsageError("{} needs a value; {}".format(key, usage))
                    value = args[i]
                values[key] = _convert(kind, key, value, usage)
        else:
            positional.append(a)
        i += 1
    return values, positional


def _convert(kind, key, value, usage):
    from IPython.core.error import UsageError
    if kind == "int":
        return _positive(value, key, usage)
    if kind == "count":
        if not value.isdigit():
            raise UsageError("{} must be a number (0 or more), not {!r}; {}".format(key, value, usage))
        return int(value)
    if kind == "names":
        names = [n.strip() for n in value.split(",") if n.strip()]
        bad = [n for n in names if not n.isidentifier()]
        if bad or not names:
            raise UsageError("{} takes names separated by commas, not {!r}; {}".format(key, value, usage))
        return names
    return value


def _positive(value, what, usage):
    from IPython.core.error import UsageError
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise UsageError("{} must be a positive integer, not {!r}; {}".format(what, value, usage))
    return n


def _one_line(text):
    lines = [l.strip() for l in str(text).strip().splitlines() if l.strip()]
    return lines[0] if lines else str(text)


# -- %treadle workers ------------------------------------------------------------------------------

def _workers(args):
    from IPython.core.error import UsageError
    usage = _usage("workers")
    opts, positional = _parse(args, {"--cpus": "int", "--stop": "flag", "--hosts": "str", "--hostfile": "str",
                                     "--python": "str", "--ssh-args": "str"}, usage)
    if opts.get("--stop"):
        if len(opts) > 1 or positional:
            raise UsageError(usage)
        s = _session()
        remote = s.stop_remote_workers()
        count = s.stop_workers()
        print("treadle: stopped {} local worker{}{}".format(count, _s(count), " and {} on other hosts".format(
            remote) if remote else ""))
        try:
            if not s.status()["workers"]:
                print("treadle: no workers connected now: tasks wait until some are (%treadle workers N)")
        except Exception:
            pass
        return None
    if "--hosts" in opts or "--hostfile" in opts:
        if positional or ("--hosts" in opts and "--hostfile" in opts):
            raise UsageError(usage)
        return _remote_workers(opts, usage)
    if "--python" in opts or "--ssh-args" in opts:
        raise UsageError("--python and --ssh-args go with --hosts or --hostfile; " + usage)
    if len(positional) != 1:
        raise UsageError(usage)
    count = _positive(positional[0], "N", usage)
    cpus = opts.get("--cpus", 1)
    s = _session()
    try:
        started = s.start_workers(count, cpus=cpus)
    except (RuntimeError, TimeoutError, OSError) as e:
        raise UsageError("treadle: workers did not start: {}".format(_one_line(e))) from None
    print("treadle: started {} local worker{} with {} cpu{} each (pids {}), connected to {}:{} ({})".format(
        len(started), "" if len(started) == 1 else "s", cpus, "" if cpus == 1 else "s",
        ", ".join(str(w.pid) for w in started), s.address[0], s.address[1], s.where))
    return None


def _parse_hosts(text):
    """``a,b:2,c`` -> [(host, n)] (treadle.remote.parse_hosts when there is one)."""
    from . import remote
    parse = getattr(remote, "parse_hosts", None)
    if parse is not None:
        return parse(text)
    hosts = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        host, _, n = item.partition(":")
        if not host or (n and (not n.isdigit() or int(n) < 1)):
            raise ValueError("{!r} is not host or host:n".format(item))
        hosts.append((host, int(n) if n else 1))
    if not hosts:
        raise ValueError("no hosts given")
    return hosts


def _remote_workers(opts, usage):
    from IPython.core.error import UsageError
    try:
        from . import remote
    except ImportError as e:
        raise UsageError("workers on other hosts need treadle.remote, which this installation lacks ({})".format(
            _one_line(e))) from None
    try:
        if "--hostfile" in opts:
            hosts = remote.parse_hostfile(opts["--hostfile"])
        else:
            hosts = _parse_hosts(opts["--hosts"])
    except OSError as e:
        raise UsageError("cannot read the hostfile: {}".format(_one_line(e))) from None
    except ValueError as e:
        raise UsageError("{}; {}".format(_one_line(e), usage)) from None
    try:
        ssh_args = shlex.split(opts.get("--ssh-args", ""))
    except ValueError as e:
        raise UsageError("--ssh-args: {}; {}".format(e, usage)) from None
    s = _session()
    listen = s.listen_address[0]
    try:
        started = s.start_remote_workers(hosts, cpus=opts.get("--cpus", 1),
                                         python=opts.get("--python", "/usr/bin/python3"), ssh_args=ssh_args)
    except ValueError as e:
        message = _one_line(e)
        if "loopback" in message and listen.startswith(("127.", "::1", "localhost")):
            message = ("this kernel's server listens on {} only, which workers on {} cannot reach: start the "
                       "kernel with TREADLE_KERNEL_HOST set to an address they reach (or 0.0.0.0)".format(
                           listen, ", ".join(h for h, _ in hosts)))
        raise UsageError(message) from None
    except Exception as e:  # RemoteWorkerError (ssh failed, workers exited), OSError (no ssh)
        import sys
        details = str(e).strip().splitlines()[1:]
        if details:
            print("\n".join(details), file=sys.stderr)
        raise UsageError("treadle: remote workers did not start: {}".format(_one_line(e))) from None
    print("treadle: started " + started.describe())
    return None


# -- %treadle status, stop, config ---------------------------------------------------------------

def _status():
    s = _session()
    local = {w.pid: w for w in s.alive_workers()}
    return StatusReport(s.status(), s.address, s.where, local)


def _stop():
    from . import kernel_support
    _session()
    count = kernel_support.cancel_all()
    if count:
        print("treadle: cancelled {} running task{} (their futures were released)".format(count, _s(count)))
    else:
        print("treadle: nothing to cancel: no task of this kernel is running")


def _config(args):
    from IPython.core.error import UsageError

    from .kernel_support import options
    usage = _usage("config")
    if args == ["--reset"]:
        options.reset()
        print(repr(options))
        return None
    pairs = []
    if len(args) == 2 and "=" not in args[0] and "=" not in args[1]:
        pairs.append((args[0], args[1]))  # %treadle config key value
    else:
        for a in args:
            key, eq, value = a.partition("=")
            if not eq or not key:
                raise UsageError(usage)
            pairs.append((key, value))
    for key, value in pairs:
        try:
            options.set(key, value)
        except ValueError as e:
            raise UsageError("{}; {}".format(e, usage)) from None
    if pairs:
        print("treadle: " + ", ".join("{} = {}".format(k, options.shown(k)) for k, _ in pairs))
    else:
        print(repr(options))
    return None


# -- %treadle graph, trace ----------------------------------------------------------------------

_made_by = {}   # name -> (id of the result bound there, server, task ids): %treadle graph NAME after a submit


def _remember_maker(name, value, futures, kinds):
    """%%treadle submit bound ``value`` (made by ``futures``) under ``name``: remember the task
    ids, so ``%treadle graph NAME`` still draws the graph that made it."""
    from .widgets import lineage
    _, Native, _ = kinds
    found = []
    _walk(futures, found.append, kinds)
    ids, server = [], None
    for f in found:
        loom = f._loom if isinstance(f, Native) else f
        if loom is None:
            continue
        server = server or lineage.server_key(loom.client.address)
        ids.append(loom.task_id)
    if ids:
        _made_by[name] = (id(value), server, ids)


def _graph_of_result(expr, value):
    """The graph that made ``value`` if ``expr`` names what a %%treadle submit bound, else None."""
    from .widgets import graph as _graph_widget
    made = _made_by.get(expr.strip())
    if made is None or made[0] != id(value):
        return None
    return _graph_widget.from_ids(made[1], made[2])

def _graph(args):
    from IPython import get_ipython
    from IPython.core.error import UsageError

    from .widgets import graph as _graph_widget
    from .widgets import lineage
    usage = _usage("graph")
    opts, positional = _parse(args, {"--expand": "str"}, usage)
    _session()
    if positional:
        expr = " ".join(positional)
        try:
            value = get_ipython().ev(expr)
        except Exception as e:
            raise UsageError("%treadle graph {}: {}: {}; {}".format(expr, type(e).__name__, _one_line(e),
                                                                    usage)) from None
        graph = _graph_widget.collect(value)
        if not len(graph):
            graph = _graph_of_result(expr, value) or graph
        if not len(graph):
            raise UsageError("%treadle graph {}: no tasks or futures there; {}".format(expr, usage))
    else:
        submissions = lineage.last_submission()
        if not submissions:
            raise UsageError("%treadle graph: nothing was submitted yet; give an expression; " + usage)
        graph = _graph_widget.from_submissions(submissions)
    try:
        _graph_widget.show(graph, expand=opts.get("--expand"))
    except ValueError as e:   # an --expand group the graph does not have
        raise UsageError("%treadle graph: {}".format(_one_line(e))) from None


def _trace(args):
    from IPython.core.error import UsageError

    from .widgets import gantt, lineage
    usage = _usage("trace")
    opts, positional = _parse(args, {"--last": "flag", "--record": "str", "--stop": "flag"}, usage)
    if positional or len(opts) > 1:
        raise UsageError(usage)
    s = _session()
    client = s.client()
    if "--record" in opts:
        import os
        path = os.path.abspath(os.path.expanduser(opts["--record"]))
        try:
            client.set_trace(path)
        except Exception as e:
            raise UsageError("treadle: cannot record into {}: {}".format(path, _one_line(e))) from None
        print("treadle: recording every event into {}/server.trace.jsonl (python3 -m treadle.report {} makes a "
              "report; %treadle trace --stop ends it)".format(path, path))
        return None
    if opts.get("--stop"):
        client._conn.trace(0, "")
        print("treadle: the trace recording stopped (the recent events stay in memory: %treadle trace)")
        return None
    data = client.trace(gantt.EVENT_LIMIT)
    window = None
    title = "trace"
    if opts.get("--last"):
        submissions = lineage.last_submission()
        if not submissions:
            raise UsageError("%treadle trace --last: nothing was submitted yet; " + usage)
        window = gantt.window_of(data, submissions)
        title = "trace of the last submission"
    from IPython.display import display
    display(gantt.TraceView(data, window=window, title=title).bundle(), raw=True)
    return None


# -- %%treadle submit --------------------------------------------------------------------------

def _kinds():
    from .future import Future
    from .loom.client.future import Future as LoomFuture
    from .loom.client.task import Task
    return Task, Future, LoomFuture


def _walk(value, visit, kinds, depth=0):
    """Calls ``visit`` for each task or future in ``value`` (also inside lists, tuples, dicts)."""
    if isinstance(value, kinds):
        visit(value)
    elif depth < 32:
        t = type(value)
        if t is list or t is tuple or t is set or t is frozenset:
            for v in value:
                _walk(v, visit, kinds, depth + 1)
        elif t is dict:
            for v in value.values():
                _walk(v, visit, kinds, depth + 1)


def _has_work(value, kinds):
    found = []

    def visit(x):
        found.append(x)
        raise StopIteration
    try:
        _walk(value, visit, kinds)
    except StopIteration:
        pass
    return bool(found)


def _replace(value, mapping, kinds, depth=0):
    """``value`` with each task or future replaced by ``mapping[id(it)]``."""
    if isinstance(value, kinds):
        return mapping.get(id(value), value)
    if depth < 32:
        t = type(value)
        if t is list or t is tuple:
            return t(_replace(v, mapping, kinds, depth + 1) for v in value)
        if t is dict:
            return {k: _replace(v, mapping, kinds, depth + 1) for k, v in value.items()}
    return value


def _names_of(expr):
    if isinstance(expr, ast.Name):
        return [expr.id]
    if isinstance(expr, ast.Tuple) and expr.elts and all(isinstance(e, ast.Name) for e in expr.elts):
        return [e.id for e in expr.elts]
    return None


class _Nothing:
    pass


def _run_in_namespace(shell, source, mode_name):
    """Runs ``source`` in the user namespace; returns (value of its last expression or
    _Nothing, the AST of that expression or None)."""
    tree = ast.parse(source)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    try:
        filename = shell.compile.cache(source)
    except Exception:
        filename = "<{}>".format(mode_name)
    ns = shell.user_ns
    exec(compile(tree, filename, "exec"), ns)
    if last is None:
        return _Nothing, None
    return eval(compile(ast.Expression(last.value), filename, "eval"), ns), last.value


class Submission:
    """What ``%%treadle submit`` sent: ``futures`` (by the names the cell gave them),
    ``wait()`` (results into the namespace), ``results()``, ``cancel()``, ``done()``."""

    def __init__(self, title, graph, ns, progress, kinds):
        self.title = title
        self.futures = graph        # name (None: the last expression) -> structure of futures
        self.progress = progress
        self._ns = ns
        self._kinds = kinds
        self._values = None

    def _flat(self):
        seen, out = set(), []

        def visit(f):
            if id(f) not in seen:
                seen.add(id(f))
                out.append(f)
        for value in self.futures.values():
            _walk(value, visit, self._kinds)
        return out

    def results(self):
        """Waits; returns {name: structure with results in place of futures}."""
        if self._values is None:
            from .loom.client.errors import LoomException, TaskFailed
            _, Native, Loom = self._kinds
            futures = self._flat()
            by_client = {}
            for f in futures:
                key = ("native", f._client) if isinstance(f, Native) else ("loom", f.client)
                by_client.setdefault(key, []).append(f)
            values = {}
            try:
                for (kind, client), group in by_client.items():
                    got = client.gather(group) if kind == "native" else client.fetch(group)
                    values.update(zip(map(id, group), got))
            except (TaskFailed, LoomException) as error:
                if self.progress is not None:
                    if isinstance(error, TaskFailed):
                        self.progress.note_failed(error.task_id)  # the others go on: the line follows them
                    else:
                        self.progress.complete(failed=True)
                raise error.with_traceback(None) from None
            if self.progress is not None:
                self.progress.complete()
            for (kind, client), group in by_client.items():
                if kind == "loom":
                    client.release(group)   # HyperLoom's gather: results leave the workers
            self._values = {name: _replace(value, values, self._kinds) for name, value in self.futures.items()}
        return self._values

    def wait(self):
        """Waits, then binds the results under the cell's names; returns the last expression's
        result if the cell ended with one that named no variable."""
        values = self.results()
        for name, value in values.items():
            if name is not None:
                self._ns[name] = value
                _remember_maker(name, value, self.futures.get(name), self._kinds)
        return values.get(None)

    def done(self):
        return self.progress is not None and self.progress.finished

    def cancel(self):
        from . import kernel_support
        futures = self._flat()
        count = 0
        _, Native, _ = self._kinds
        native = [f for f in futures if isinstance(f, Native)]
        loom = [f for f in futures if not isinstance(f, Native)]
        for client in {id(f._client): f._client for f in native}.values():
            count += kernel_support._cancel_native(client, [f for f in native if f._client is client])
        for client in {id(f.client): f.client for f in loom}.values():
            count += kernel_support._cancel_loom(client, [f for f in loom if f.client is client])
        if self.progress is not None:
            self.progress.cancelled()
        return count

    def __repr__(self):
        state = self.progress.text() if self.progress is not None else "submitted"
        return "<treadle submission {}>".format(state)


_PLAN_PROGRESS_LIMIT = 200_000   # tasks of a plan a progress line follows one by one


def _submit(args, cell):
    from IPython import get_ipython
    from IPython.core.error import UsageError

    from . import kernel_support
    from .loom.client.errors import LoomException
    from .widgets import lineage
    shell = get_ipython()
    usage = _usage("submit")
    opts, positional = _parse(args, {"--name": "str", "--wait": "flag", "--no-wait": "flag", "--client": "str"},
                              usage)
    if positional or ("--wait" in opts and "--no-wait" in opts):
        raise UsageError(usage)
    name = opts.get("--name")
    if name is not None and not name.isidentifier():
        raise UsageError("--name takes a Python name, not {!r}; {}".format(name, usage))
    client_name = opts.get("--client")
    if client_name is not None and client_name not in shell.user_ns:
        raise UsageError("--client {}: no such variable; {}".format(client_name, usage))
    _session()
    kinds = _kinds()
    Task, Native, Loom = kinds

    ns = shell.user_ns
    before = {k: id(v) for k, v in ns.items()}
    value, last = _run_in_namespace(shell, shell.transform_cell(cell), "treadle submit")

    if value is not _Nothing and _has_work(value, kinds):
        names = _names_of(last)
        graph = {n: ns[n] for n in names} if names else {None: value}
    else:
        graph = {k: v for k, v in ns.items()
                 if not k.startswith("_") and before.get(k) != id(v) and _has_work(v, kinds)}
    if not graph:
        raise UsageError("nothing to submit: the cell's last expression and the names it assigned hold no "
                         "tasks or futures")

    # What the graph holds: HyperLoom tasks (submitted now, in one plan), futures (sent already).
    tasks, natives, looms, seen = [], [], [], set()

    def visit(x):
        if id(x) in seen:
            return
        seen.add(id(x))
        (tasks if isinstance(x, Task) else natives if isinstance(x, Native) else looms).append(x)
    for v in graph.values():
        _walk(v, visit, kinds)
    began = time.monotonic()
    mapping = {}
    plan = None   # (base, count): every task of the plan counts on the progress line
    if tasks:
        loom_client = _loom_client(ns.get(client_name) if client_name else None, looms)
        try:
            submitted = loom_client.submit(tasks)
        except LoomException as e:
            raise UsageError("treadle: the graph was not submitted: {}".format(_one_line(e))) from None
        plan = getattr(loom_client, "last_plan", None)
        mapping = {id(t): f for t, f in zip(tasks, submitted)}
        looms = looms + list(submitted)
        graph = {k: _replace(v, mapping, kinds) for k, v in graph.items()}
    for c in {id(f._client): f._client for f in natives}.values():
        c.flush()

    tracker = kernel_support.tracker()
    cell_record = tracker.current() if tracker is not None else None
    publisher = cell_record.publisher if cell_record is not None else None
    done = sum(1 for f in natives if f._has_value)
    roots = {f.task_id for f in looms}
    # Every task of the plan counts, up to a size whose ids are cheap to watch one by one;
    # bigger plans count their named results.
    counted = plan is not None and plan[1] <= _PLAN_PROGRESS_LIMIT
    more = [t for t in range(plan[0], plan[0] + plan[1]) if t not in roots] if counted else []
    progress = kernel_support.Progress(name or "submit", len(natives) + len(looms) + len(more), done=done,
                                       publisher=publisher)
    progress.started = began   # the rate counts from the submission
    progress.show()
    if cell_record is not None:
        cell_record.progress.append(progress)
    follow = {}
    for f in natives:
        if not f._has_value and f._loom is not None:
            follow.setdefault(lineage.server_key(f._client.address), []).append((f._loom.task_id, f._loom))
    for f in looms:
        follow.setdefault(lineage.server_key(f.client.address), []).append((f.task_id, f))
    s = _session()
    plan_server = lineage.server_key(loom_client.address) if counted else None
    for address, futures in follow.items():
        try:
            s.monitor(address).track(progress, futures, more if address == plan_server else ())
        except Exception:
            pass  # no live updates: the line still shows the end
    if not follow and progress.total == progress.done:
        progress.complete()

    submission = Submission(name or "submit", graph, ns, progress, kinds)
    if name is not None:
        ns[name] = submission
    if opts.get("--no-wait"):
        for k, v in graph.items():
            if k is not None:
                ns[k] = v
        return graph.get(None)
    return submission.wait()


def _loom_client(chosen, looms):
    """The HyperLoom client for the cell's tasks: --client, else the one its futures belong to,
    else the native default client's."""
    from IPython.core.error import UsageError

    import treadle
    if chosen is not None:
        if isinstance(chosen, treadle.Client):
            return chosen._loom
        if hasattr(chosen, "submit") and hasattr(chosen, "fetch") and hasattr(chosen, "_conn"):
            return chosen
        raise UsageError("--client must name a treadle.Client or a treadle.loom.client.Client, not a {}".format(
            type(chosen).__name__))
    if looms:
        return looms[0].client
    return treadle.default_client()._loom


# -- %%treadle task ----------------------------------------------------------------------------

def _run_cell(code, pushed, pull, retries=0, shape="both"):
    """Runs a notebook cell's code as a task (on a worker): in a fresh namespace holding the
    pushed variables, up to ``retries`` more times if it raises. Returns (pulled variables,
    value of the last expression) for ``shape="both"``; for a future the user holds, the pulled
    variables (a dict) if any were asked for, else the value."""
    import linecache
    import sys
    filename = "<treadle cell>"
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    tree = ast.parse(code, filename)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    body = compile(tree, filename, "exec")
    expr = compile(ast.Expression(last.value), filename, "eval") if last is not None else None
    attempts = 1 + max(0, int(retries))
    for attempt in range(1, attempts + 1):
        ns = {"__name__": "__treadle_cell__"}
        ns.update(pushed)
        try:
            exec(body, ns)
            value = eval(expr, ns) if expr is not None else None
            break
        except Exception as e:
            if attempt == attempts:
                raise
            print("attempt {} of {} failed ({}: {}); running the cell again".format(
                attempt, attempts, type(e).__name__, e), file=sys.stderr, flush=True)
    missing = [n for n in pull if n not in ns]
    if missing:
        raise NameError("--pull: the cell did not define {}".format(", ".join(missing)))
    pulled = {n: ns[n] for n in pull}
    if shape == "both":
        return pulled, value
    return pulled if pull else value


def _task(args, cell):
    from IPython import get_ipython
    from IPython.core.error import UsageError

    import treadle
    from .loom.client.errors import LoomException, TaskFailed
    from .remote_exception import without_treadle_frames
    shell = get_ipython()
    usage = _usage("task")
    opts, positional = _parse(args, {"--push": "names", "--pull": "names", "--retries": "count", "--cpus": "int",
                                     "--no-wait": "flag", "--wait": "flag"}, usage)
    if positional or ("--wait" in opts and "--no-wait" in opts):
        raise UsageError(usage)
    ns = shell.user_ns
    pushed = {}
    for n in opts.get("--push", []):
        if n not in ns:
            raise UsageError("--push {}: name {!r} is not defined here".format(",".join(opts["--push"]), n))
        pushed[n] = ns[n]
    compile(cell, "<treadle cell>", "exec")  # a syntax error shows here, not on a worker
    s = _session()
    no_wait = bool(opts.get("--no-wait"))
    cpus = opts.get("--cpus", 1)
    client = treadle.default_client()  # starts the automatic workers if none are connected
    if cpus > 1 and tuple(client.address) == tuple(s.address):
        largest = max([w.get("cpus", 0) for w in s.status()["workers"]] or [0])
        if largest and largest < cpus:
            raise UsageError("--cpus {}: no connected worker has that many cpus (the largest has {}); "
                             "%treadle workers N --cpus {} starts some".format(cpus, largest, cpus))
    run = treadle.task(_run_cell, label="cell", cpus=cpus, client=client)
    future = run(cell, pushed, opts.get("--pull", []), opts.get("--retries", 0), "future" if no_wait else "both")
    if no_wait:
        future._client.flush()
        return future
    try:
        pulled, value = future.result()
    except (TaskFailed, LoomException) as error:
        failed = error
    else:
        failed = None
    if failed is not None:  # with the cell's own frames (a task's exception), not treadle's
        __tracebackhide__ = True
        raise failed.with_traceback(without_treadle_frames(failed.__traceback__))
    ns.update(pulled)
    return value


def _s(n):
    return "" if n == 1 else "s"


# -- %treadle status -------------------------------------------------------------------------------

class StatusReport:
    """What ``%treadle status`` shows: rich (HTML) in a notebook, a text table elsewhere."""

    COLUMNS = ("worker", "name", "cpus", "free", "tasks done", "cpu use", "memory", "data address", "started")

    def __init__(self, status, address, where, local=None):
        self.status = status
        self.address = tuple(address)
        self.where = where
        self._local = local or {}

    def _rows(self):
        rows = []
        for w in self.status.get("workers", []):
            tail = w.get("name", "").rsplit(":", 1)[-1]  # worker names are "host:pid"
            here = tail.isdigit() and int(tail) in self._local
            # cpu and memory: the worker's last sample (every 0.5 s), its executors included
            cpu = "{:.0f} %".format(w["cpu"]) if "cpu" in w else "-"
            memory = "{} ({} held)".format(_bytes(w["rss"]), _bytes(w.get("store", 0))) if "rss" in w else "-"
            rows.append((str(w.get("id", "")), w.get("name", ""), str(w.get("cpus", "")), str(w.get("free_cpus", "")),
                         str(w.get("tasks_done", "")), cpu, memory, w.get("address", ""),
                         "here" if here else "elsewhere"))
        return rows

    def _summary(self):
        st = self.status
        workers = st.get("workers", [])
        cpus = sum(w.get("cpus", 0) for w in workers)
        free = sum(w.get("free_cpus", 0) for w in workers)
        clients = st.get("clients", 0)
        return "{} worker{}, {} cpu{} ({} free), {} client{}".format(
            len(workers), _s(len(workers)), cpus, _s(cpus), free, clients, _s(clients))

    def _tasks(self):
        order = ["waiting", "ready", "assigned", "running", "finished", "failed", "redirected", "released"]
        states = self.status.get("states", {})
        names = [n for n in order if n in states] + sorted(n for n in states if n not in order)
        counts = ", ".join("{} {}".format(states[n], n) for n in names if states[n])
        return "{} in all{}".format(self.status.get("tasks", 0), "; " + counts if counts else "")

    def __repr__(self):
        lines = ["treadle server {}:{} ({}): {}".format(self.address[0], self.address[1], self.where, self._summary()),
                 "tasks: " + self._tasks(),
                 "memory held: " + _bytes(self.status.get("memory", 0))]
        rows = self._rows()
        if not rows:
            lines.append(_NO_WORKERS)
            return "\n".join(lines)
        rows.insert(0, self.COLUMNS)
        widths = [max(len(r[i]) for r in rows) for i in range(len(self.COLUMNS))]
        lines += ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]
        return "\n".join(lines)

    def _repr_html_(self):
        import html
        e = html.escape
        out = ["<div><strong>treadle</strong> server <code>{}:{}</code> ({}) &middot; {} &middot; memory held {}</div>"
               .format(e(self.address[0]), self.address[1], e(self.where), e(self._summary()),
                       e(_bytes(self.status.get("memory", 0)))),
               "<div>tasks: {}</div>".format(e(self._tasks()))]
        rows = self._rows()
        if not rows:
            out.append("<div><em>{}</em></div>".format(e(_NO_WORKERS)))
            return "".join(out)
        out.append("<table><thead><tr>{}</tr></thead><tbody>".format("".join("<th>{}</th>".format(e(c))
                                                                            for c in self.COLUMNS)))
        for r in rows:
            out.append("<tr>{}</tr>".format("".join("<td>{}</td>".format(e(c)) for c in r)))
        out.append("</tbody></table>")
        return "".join(out)


_NO_WORKERS = "no workers connected (%treadle workers N starts some)"


def _bytes(n):
    n = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return "{:.0f} {}".format(n, unit) if unit == "B" else "{:.1f} {}".format(n, unit)
        n /= 1024


# -- completion ------------------------------------------------------------------------------

def _matcher(completer):
    """A matcher for IPython's completer (its magic_arg_matchers: they go first, and when they
    match nothing else is offered)."""
    def treadle_matches(line_buffer):
        try:
            line = completer.text_until_cursor
            token = completer.splitter.split_line(line)
            return completions(line, token, getattr(completer, "namespace", None) or {})
        except Exception:
            return []
    treadle_matches._treadle = True
    return treadle_matches


def completions(line, token, namespace=()):
    """Completions of ``token`` (the text being completed) at the end of ``line`` (the line up
    to the cursor), for ``%treadle`` / ``%%treadle`` lines; [] for other lines."""
    stripped = line.lstrip()
    words = stripped.split()
    if not words or words[0] not in ("%treadle", "%%treadle"):
        return []
    cell = words[0] == "%%treadle"
    current = "" if stripped[-1:].isspace() else words[-1]
    done = words[1:] if not current else words[1:-1]
    if len(words) == 1 and current:
        return []  # "%treadle" itself: IPython completes magic names
    if not done:
        names = sorted(_CELL_COMMANDS) if cell else sorted(_LINE_COMMANDS)
        return [n for n in names if n.startswith(token)]
    command = done[0]
    if command == "config":
        from .kernel_support import options
        key, eq, _ = current.partition("=")
        if eq:
            return [v for v in options.CHOICES.get(key, []) if v.startswith(token)]
        return [k + "=" for k in options.HELP if k.startswith(token)] + (
            ["--reset"] if "--reset".startswith(token) and not done[1:] else [])
    previous = done[-1] if len(done) > 1 else None
    if previous in ("--push", "--pull") or (current.startswith(("--push=", "--pull="))):
        return sorted(n for n in namespace if not n.startswith("_") and n.isidentifier() and n.startswith(token))
    if previous in ("--hostfile", "--python", "--ssh-args", "--hosts", "--cpus", "--retries", "--name",
                    "--client", "--record", "--expand"):
        return []  # a value: files and names as usual
    options_ = _OPTIONS.get(command, [])
    if command == "graph" and not current.startswith("-"):   # an expression: the notebook's names
        names = sorted(n for n in namespace if not n.startswith("_") and n.isidentifier() and n.startswith(token))
        return names + ([o for o in options_ if o not in done] if not current else [])
    if current.startswith("-") or not current:
        return [o for o in options_ if o.startswith(token) and o not in done]
    return []
