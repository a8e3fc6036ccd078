"""The hosts of a batch allocation, read from the scheduler's variables and files.

Each reader returns ``[(host, slots)]`` in the scheduler's order, one entry per host:

* SLURM: ``SLURM_JOB_NODELIST`` (bracket syntax, ``node[01-03,07],gpu1``) with
  ``SLURM_TASKS_PER_NODE`` (``2(x3),1``) times ``SLURM_CPUS_PER_TASK``;
* PBS/Torque: ``PBS_NODEFILE``, a host per line, repeated once per slot;
* Grid Engine: ``PE_HOSTFILE``, ``host slots queue processors`` per line.

``allocation_hosts(environ)`` picks the one that applies. A malformed value raises ValueError
naming the variable, never a partial list.
"""

import re

__all__ = ["Allocation", "allocation_hosts", "expand_nodelist", "expand_tasks_per_node", "parse_pbs_nodefile",
           "parse_pe_hostfile", "slurm_hosts"]


class Allocation:
    """The hosts a job was given: ``scheduler`` ("slurm", "pbs", "sge"), ``job`` (its id) and
    ``hosts`` ``[(host, slots)]``."""

    def __init__(self, scheduler, job, hosts):
        self.scheduler = scheduler
        self.job = job
        self.hosts = hosts

    @property
    def slots(self):
        return sum(n for _, n in self.hosts)

    def __repr__(self):
        return "<Allocation {} job {}: {}>".format(
            self.scheduler, self.job, ", ".join("{}:{}".format(h, n) for h, n in self.hosts))


def _split_top_level(text, what):
    """Splits on commas that are not inside brackets."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c == "[":
            depth += 1
            if depth > 1:
                raise ValueError("{}: nested '[' in {!r}".format(what, text))
        elif c == "]":
            depth -= 1
            if depth < 0:
                raise ValueError("{}: unmatched ']' in {!r}".format(what, text))
        elif c == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    if depth:
        raise ValueError("{}: unmatched '[' in {!r}".format(what, text))
    parts.append(text[start:])
    return parts


def _expand_range(item, what):
    """``07`` -> ["07"]; ``01-03`` -> ["01", "02", "03"] (keeping the zero padding)."""
    first, sep, last = item.partition("-")
    if not first.isdigit() or (sep and not last.isdigit()):
        raise ValueError("{}: {!r} is not a number or a range".format(what, item))
    if not sep:
        return [first]
    lo, hi = int(first), int(last)
    if hi < lo:
        raise ValueError("{}: the range {!r} goes backwards".format(what, item))
    if hi - lo >= 100000:
        raise ValueError("{}: the range {!r} is too large".format(what, item))
    width = len(first)
    return [str(n).zfill(width) for n in range(lo, hi + 1)]


def _expand_name(name, what):
    # Every bracket group multiplies: rack[1-2]-n[1-2] gives 4 names, in SLURM's order.
    match = re.search(r"\[([^\]]*)\]", name)
    if not match:
        if not name or any(c.isspace() or c in "[]" for c in name):
            raise ValueError("{}: {!r} is not a host name".format(what, name))
        return [name]
    head, tail = name[:match.start()], name[match.end():]
    values = []
    for item in match.group(1).split(","):
        values += _expand_range(item.strip(), what)
    return [head + v + rest for v in values for rest in _expand_name(tail, what)] if tail else \
        [head + v for v in values]


def expand_nodelist(text, what="SLURM_JOB_NODELIST"):
    """``"node[01-03,07],gpu1"`` -> ``["node01", "node02", "node03", "node07", "gpu1"]``."""
    text = (text or "").strip()
    if not text:
        raise ValueError("{} is empty".format(what))
    hosts = []
    for part in _split_top_level(text, what):
        if not part.strip():
            raise ValueError("{}: an empty name in {!r}".format(what, text))
        hosts += _expand_name(part.strip(), what)
    return hosts


def expand_tasks_per_node(text, what="SLURM_TASKS_PER_NODE"):
    """``"2(x3),1"`` -> ``[2, 2, 2, 1]``."""
    counts = []
    for part in (text or "").split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:\(x(\d+)\))?\s*", part)
        if not match or int(match.group(1)) < 1 or (match.group(2) is not None and int(match.group(2)) < 1):
            raise ValueError("{}: {!r} is not like '2(x3),1'".format(what, text))
        counts += [int(match.group(1))] * int(match.group(2) or 1)
    return counts


def slurm_hosts(environ):
    """``[(host, slots)]`` of a SLURM allocation: tasks on the host times cpus per task."""
    nodelist = environ.get("SLURM_JOB_NODELIST") or environ.get("SLURM_NODELIST")
    hosts = expand_nodelist(nodelist)
    tasks_text = environ.get("SLURM_TASKS_PER_NODE")
    if tasks_text:
        tasks = expand_tasks_per_node(tasks_text)
    else:  # an allocation by nodes only: one task each
        tasks = [1] * len(hosts)
    if len(tasks) != len(hosts):
        raise ValueError("SLURM_TASKS_PER_NODE={!r} names {} hosts, SLURM_JOB_NODELIST={!r} names {}".format(
            tasks_text, len(tasks), nodelist, len(hosts)))
    per_task = environ.get("SLURM_CPUS_PER_TASK") or "1"
    if not per_task.isdigit() or int(per_task) < 1:
        raise ValueError("SLURM_CPUS_PER_TASK={!r} is not a positive integer".format(per_task))
    return [(h, n * int(per_task)) for h, n in zip(hosts, tasks)]


def _merge(hosts):
    """Adds up the slots of a host named several times, keeping the order of first mention."""
    merged = {}
    for host, n in hosts:
        merged[host] = merged.get(host, 0) + n
    return list(merged.items())


def parse_pbs_nodefile(path):
    """PBS_NODEFILE: one host per line, once per slot (blank lines ignored)."""
    with open(path) as f:
        names = [line.strip() for line in f if line.strip()]
    for name in names:
        if any(c.isspace() for c in name):
            raise ValueError("{}: {!r} is not a host name".format(path, name))
    if not names:
        raise ValueError("{}: no hosts in the PBS node file".format(path))
    return _merge((n, 1) for n in names)


def parse_pe_hostfile(path):
    """Grid Engine's PE_HOSTFILE: ``host slots queue processor-range`` per line."""
    hosts = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 2 or not fields[1].isdigit() or int(fields[1]) < 1:
                raise ValueError("{} line {}: expected 'host slots queue processors', got {!r}".format(
                    path, number, line.strip()))
            hosts.append((fields[0], int(fields[1])))
    if not hosts:
        raise ValueError("{}: no hosts in the PE host file".format(path))
    return _merge(hosts)


def allocation_hosts(environ):
    """The ``Allocation`` this process runs in (from ``environ``), or None outside one.

    SLURM is recognised by ``SLURM_JOB_ID`` with a node list; PBS by ``PBS_NODEFILE``; Grid
    Engine by ``PE_HOSTFILE`` (a parallel-environment job; a plain job has no host list)."""
    if environ.get("SLURM_JOB_ID") and (environ.get("SLURM_JOB_NODELIST") or environ.get("SLURM_NODELIST")):
        return Allocation("slurm", environ["SLURM_JOB_ID"], slurm_hosts(environ))
    if environ.get("PBS_NODEFILE"):
        return Allocation("pbs", environ.get("PBS_JOBID", "?"), parse_pbs_nodefile(environ["PBS_NODEFILE"]))
    if environ.get("PE_HOSTFILE"):
        return Allocation("sge", environ.get("JOB_ID", "?"), parse_pe_hostfile(environ["PE_HOSTFILE"]))
    return None
