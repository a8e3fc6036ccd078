"""What ``%treadle status`` shows: rich (HTML) in a notebook, a text table elsewhere."""

import html

from ..core.client_summary import human_bytes
from ..widgets import states as task_states
from .declare import plural


class StatusReport:
    """What ``%treadle status`` shows: rich (HTML) in a notebook, a text table elsewhere."""

    COLUMNS = ("worker", "name", "cpus", "free", "running", "queued", "tasks done", "cpu use", "memory",
               "data address", "started")

    def __init__(self, status, address, where, local=None, jobs="", sessions=""):
        self.status = status
        self.address = tuple(address)
        self.where = where
        self._local = local or {}
        self.jobs = jobs            # the batch jobs submitted from here, one line each ("" for none)
        self.sessions = sessions    # the Rain clients' sessions, a line per client ("" for none)

    def _rows(self):
        rows = []
        for w in self.status.get("workers", []):
            tail = w.get("name", "").rsplit(":", 1)[-1]  # worker names are "host:pid"
            here = tail.isdigit() and int(tail) in self._local
            # cpu and memory: the worker's last sample (every 0.5 s), its executors included
            cpu = "{:.0f} %".format(w["cpu"]) if "cpu" in w else "-"
            memory = "{} ({} held)".format(human_bytes(w["rss"]), human_bytes(w.get("store", 0))) if "rss" in w else "-"
            # free: cpus no running task holds; queued: sent there, waiting for a cpu or inputs
            rows.append((str(w.get("id", "")), w.get("name", ""), str(w.get("cpus", "")), str(w.get("free_cpus", "")),
                         str(w.get("running", "")), str(w.get("queued", "")),
                         str(w.get("tasks_done", "")), cpu, memory, w.get("address", ""),
                         "by this kernel" if here else "elsewhere"))
        return rows

    def _summary(self):
        st = self.status
        workers = st.get("workers", [])
        cpus = sum(w.get("cpus", 0) for w in workers)
        free = sum(w.get("free_cpus", 0) for w in workers)
        clients = st.get("clients", 0)
        return "{} worker{}, {} cpu{} ({} free), {} client{}".format(
            len(workers), plural(len(workers)), cpus, plural(cpus), free, clients, plural(clients))

    def _tasks(self):
        order = ["waiting", "ready", "assigned", "running", "finished", "failed", "redirected", "released",
                 "cancelled"]
        states = self.status.get("states", {})
        names = [n for n in order if n in states] + sorted(n for n in states if n not in order)
        counts = ", ".join("{} {}".format(states[n], task_states.word(n)) for n in names if states[n])
        return "{} in all{}".format(self.status.get("tasks", 0), "; " + counts if counts else "")

    def __repr__(self):
        lines = ["treadle server {}:{} ({}): {}".format(self.address[0], self.address[1], self.where, self._summary()),
                 "tasks: " + self._tasks(),
                 "memory held: " + human_bytes(self.status.get("memory", 0))]
        rows = self._rows()
        if not rows:
            lines.append(_NO_WORKERS)
        else:
            rows.insert(0, self.COLUMNS)
            widths = [max(len(r[i]) for r in rows) for i in range(len(self.COLUMNS))]
            lines += ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]
        if self.jobs:
            lines.append(self.jobs)
        if self.sessions:
            lines.append(self.sessions)
        return "\n".join(lines)

    def _repr_html_(self):
        e = html.escape
        out = ["<div><strong>treadle</strong> server <code>{}:{}</code> ({}) &middot; {} &middot; memory held {}</div>"
               .format(e(self.address[0]), self.address[1], e(self.where), e(self._summary()),
                       e(human_bytes(self.status.get("memory", 0)))),
               "<div>tasks: {}</div>".format(e(self._tasks()))]
        rows = self._rows()
        if not rows:
            out.append("<div><em>{}</em></div>".format(e(_NO_WORKERS)))
        else:
            out.append("<table><thead><tr>{}</tr></thead><tbody>".format("".join("<th>{}</th>".format(e(c))
                                                                                for c in self.COLUMNS)))
            for r in rows:
                out.append("<tr>{}</tr>".format("".join("<td>{}</td>".format(e(c)) for c in r)))
            out.append("</tbody></table>")
        if self.jobs:
            out.append("<pre>{}</pre>".format(e(self.jobs)))
        if self.sessions:
            out.append("<div>{}</div>".format("<br>".join(e(line) for line in self.sessions.split("\n"))))
        return "".join(out)


_NO_WORKERS = "no workers connected (%treadle workers N starts some)"
