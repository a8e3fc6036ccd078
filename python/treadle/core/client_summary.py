"""What a client shows of its cluster in a notebook (Dask users expect it): the server's address,
its workers, cpus and memory, and its tasks by state, all from one ``status`` answer; as a
line of text (``__repr__``) and as HTML (``_repr_html_``, a jinja2 template beside this file)."""

import os

import jinja2

# The scheduler's states in the order a task goes through them, by the user's word for each
# ("assigned": sent to a worker that has not started it, "queued").
STATES = (("waiting", "waiting"), ("ready", "ready"), ("assigned", "queued"), ("running", "running"),
          ("redirected", "redirected"), ("finished", "finished"), ("failed", "failed"), ("released", "released"),
          ("cancelled", "cancelled"))

_environment = None


def human_bytes(n):
    """1536 -> "1.5 KiB"."""
    n = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return "{:.0f} {}".format(n, unit) if unit == "B" else "{:.1f} {}".format(n, unit)
        n /= 1024


class ClusterSummary:
    """The numbers of one ``status`` answer (None: the server could not be asked, ``problem`` says why)."""

    def __init__(self, kind, address, status=None, problem=None):
        self.kind = kind              # "treadle.Client", "treadle.loom.client.Client"
        self.address = "{}:{}".format(*address)
        self.problem = problem
        status = status or {}
        self.workers = [{
            "name": w.get("name", ""),
            "cpus": w.get("cpus", 0),
            "free": w.get("free_cpus", 0),
            "running": w.get("running", 0),
            "queued": w.get("queued", 0),
            "done": w.get("tasks_done", 0),
            "memory": human_bytes(w["rss"]) if "rss" in w else "-",
            "held": human_bytes(w.get("store", 0)) if "rss" in w else "-",
        } for w in status.get("workers", [])]
        self.cpus = sum(w["cpus"] for w in self.workers)
        self.free = sum(w["free"] for w in self.workers)
        self.memory = human_bytes(sum(w.get("rss", 0) for w in status.get("workers", [])))
        states = status.get("states", {})
        self.tasks = [(shown, states[name]) for name, shown in STATES if states.get(name)]
        self.clients = status.get("clients", 0)

    @classmethod
    def of(cls, kind, address, connection):
        if connection.closed:
            return cls(kind, address, problem="closed")
        try:
            return cls(kind, address, connection.status())
        except Exception as error:
            return cls(kind, address, problem="the server does not answer: {}".format(error))

    def text(self):
        if self.problem:
            return "<{} {} ({})>".format(self.kind, self.address, self.problem)
        n = len(self.workers)
        tasks = ", ".join("{} {}".format(count, name) for name, count in self.tasks) or "none"
        return "<{} {}: {} worker{}, {} cpu{} ({} free), memory {}; tasks: {}>".format(
            self.kind, self.address, n, "" if n == 1 else "s", self.cpus, "" if self.cpus == 1 else "s",
            self.free, self.memory, tasks)

    def html(self):
        return _template().render(s=self)


def _template():
    global _environment
    if _environment is None:
        folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
        _environment = jinja2.Environment(loader=jinja2.FileSystemLoader(folder), autoescape=True,
                                          trim_blocks=True, lstrip_blocks=True)
    return _environment.get_template("client.html.j2")
