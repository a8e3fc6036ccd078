"""What ``treadle-cluster start`` started, kept in a file so ``stop`` and ``status`` work from
another shell (or another job step): ``$XDG_DATA_HOME/treadle/clusters/NAME/state.json``
(default ``~/.local/share/treadle/clusters/NAME``), in a 0700 folder that also holds the
server's log and the jobs' output (``logs/``)."""

import json
import os
import re
import tempfile

__all__ = ["ClusterState", "cluster_dir"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def cluster_dir(name):
    if not _NAME.match(name or "") or name in (".", ".."):
        raise ValueError("cluster name {!r}: letters, digits and _.- only".format(name))
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "treadle", "clusters", name)


class ClusterState:
    """The record of one named cluster.

    ``server``: ``{"host", "port", "connect", "pid", "log"}``; ``pid`` is set only for a server
    this tool started (and so stops). ``jobs``: ``{scheduler: [job ids]}``. ``launches``: the
    launcher processes of workers started inside an allocation (``{"pid", "host", "how"}``).
    ``last_states``: the last scheduler state seen per job, for jobs the scheduler forgot.
    ``adapt``: the ``--adapt`` loop's range, job options and process, if one runs."""

    def __init__(self, name, data=None):
        self.name = name
        self.folder = cluster_dir(name)
        data = data or {}
        self.server = data.get("server")
        self.secret_file = data.get("secret_file")
        self.jobs = data.get("jobs", {})
        self.launches = data.get("launches", [])
        self.last_states = data.get("last_states", {})
        # --adapt: {"min", "max", "scheduler", "job" (the job options), "pid", "log"}
        self.adapt = data.get("adapt")

    @property
    def path(self):
        return os.path.join(self.folder, "state.json")

    @property
    def log_dir(self):
        return os.path.join(self.folder, "logs")

    @classmethod
    def load(cls, name):
        """The recorded state, or None if nothing was started under this name."""
        state = cls(name)
        try:
            with open(state.path) as f:
                return cls(name, json.load(f))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as e:
            raise ValueError("cannot read {}: {}".format(state.path, e)) from None

    def make_folders(self):
        os.makedirs(self.log_dir, mode=0o700, exist_ok=True)
        os.chmod(self.folder, 0o700)

    def save(self):
        self.make_folders()
        data = {"server": self.server, "secret_file": self.secret_file, "jobs": self.jobs,
                "launches": self.launches, "last_states": self.last_states, "adapt": self.adapt}
        # Written whole, then renamed: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".state-")
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, self.path)

    def remove(self):
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    @property
    def server_address(self):
        """"host:port" the workers and clients connect to."""
        if not self.server:
            return None
        return "{}:{}".format(self.server["connect"], self.server["port"])

    def all_jobs(self):
        return [(scheduler, job) for scheduler, ids in self.jobs.items() for job in ids]
