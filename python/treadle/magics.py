"""The ``%treadle`` magics: the same in the treadle kernel and, after ``%load_ext treadle``, in
any IPython kernel.

    %treadle workers 4 [--cpus 2]    start 4 local workers (2 cpus each; default 1)
    %treadle workers --stop          stop the workers started from this kernel
    %treadle status                  workers, cpus, tasks by state, memory held (a table)
    %treadle?                        this help

IPython is imported only when the magics are registered, so ``import treadle`` stays light.
"""

import shlex

_SUBCOMMANDS = {
    "workers": "workers N [--cpus C] | workers --stop",
    "status": "status",
}
USAGE = "usage: %treadle " + " | %treadle ".join(_SUBCOMMANDS.values()) + "   (%treadle? for help)"


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
        ipython.set_hook("complete_command", _complete, str_key="%treadle")
    except Exception:
        pass  # completion is a nicety


def treadle_magic(line, cell=None):
    """treadle: run task graphs on workers from this notebook.

    %treadle workers N [--cpus C]
        Start N local worker processes (C cpus each, default 1) connected to this kernel's
        treadle server, and wait until they are connected. Without this, the first task
        submitted starts one worker per core.
    %treadle workers --stop
        Stop the workers started from this kernel (workers started elsewhere stay).
    %treadle status
        The server's workers, their cpus, tasks by state and memory held, as a table.

    In Python: ``import treadle``, then ``@treadle.task`` functions return futures;
    ``treadle.default_client()`` is connected to this kernel's server.
    """
    from IPython.core.error import UsageError
    if cell is not None:
        raise UsageError("%%treadle cell magics are not available yet; " + USAGE)
    try:
        args = shlex.split(line)
    except ValueError as e:
        raise UsageError("{}; {}".format(e, USAGE)) from None
    if not args:
        raise UsageError(USAGE)
    command, rest = args[0], args[1:]
    if command == "workers":
        return _workers(rest)
    if command == "status":
        if rest:
            raise UsageError("usage: %treadle status")
        return _status()
    raise UsageError("unknown sub-command {!r}; {}".format(command, USAGE))


def _session():
    from . import kernel_support
    s = kernel_support.session()
    if s is None:
        from IPython.core.error import UsageError
        raise UsageError("treadle is not set up in this kernel: run %load_ext treadle")
    return s


def _workers(args):
    from IPython.core.error import UsageError
    usage = "usage: %treadle " + _SUBCOMMANDS["workers"]
    if args == ["--stop"]:
        s = _session()
        count = s.stop_workers()
        print("treadle: stopped {} local worker{}".format(count, "" if count == 1 else "s"))
        try:
            if not s.status()["workers"]:
                print("treadle: no workers connected now: tasks wait until some are (%treadle workers N)")
        except Exception:
            pass
        return None
    count, cpus = None, 1
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--cpus"):
            if "=" in a:
                value = a.split("=", 1)[1]
            elif i + 1 < len(args):
                i += 1
                value = args[i]
            else:
                raise UsageError(usage)
            cpus = _positive(value, "--cpus", usage)
        elif count is None and not a.startswith("-"):
            count = _positive(a, "N", usage)
        else:
            raise UsageError(usage)
        i += 1
    if count is None:
        raise UsageError(usage)
    s = _session()
    try:
        started = s.start_workers(count, cpus=cpus)
    except (RuntimeError, TimeoutError, OSError) as e:
        raise UsageError("treadle: workers did not start: {}".format(e)) from None
    print("treadle: started {} local worker{} with {} cpu{} each (pids {}), connected to {}:{} ({})".format(
        len(started), "" if len(started) == 1 else "s", cpus, "" if cpus == 1 else "s",
        ", ".join(str(w.pid) for w in started), s.address[0], s.address[1], s.where))
    return None


def _positive(value, what, usage):
    from IPython.core.error import UsageError
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise UsageError("{} must be a positive integer, not {!r}; {}".format(what, value, usage))
    return n


def _status():
    s = _session()
    local = {w.pid: w for w in s.alive_workers()}
    return StatusReport(s.status(), s.address, s.where, local)


class StatusReport:
    """What ``%treadle status`` shows: rich (HTML) in a notebook, a text table elsewhere."""

    COLUMNS = ("worker", "name", "cpus", "free", "tasks done", "data address", "started")

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
            rows.append((str(w.get("id", "")), w.get("name", ""), str(w.get("cpus", "")), str(w.get("free_cpus", "")),
                         str(w.get("tasks_done", "")), w.get("address", ""), "here" if here else "elsewhere"))
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


def _s(n):
    return "" if n == 1 else "s"


def _bytes(n):
    n = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return "{:.0f} {}".format(n, unit) if unit == "B" else "{:.1f} {}".format(n, unit)
        n /= 1024


# -- completion ------------------------------------------------------------------------------

def _complete(self, event):
    """Completes ``%treadle <sub-command>`` and its options."""
    words = event.line.split()
    ends_with_space = event.line.endswith(" ")
    if len(words) == 1 or (len(words) == 2 and not ends_with_space):
        return sorted(_SUBCOMMANDS)
    if words[1] == "workers":
        return ["--cpus", "--stop"]
    return []
