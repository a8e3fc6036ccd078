"""The part of IPython's ``MultiEngineClient`` that the task interface leans on: the engines'
ids, code run on some or all of them, their namespaces (push, pull, reset) and properties."""

from ..core.local_traceback import raised_as_local
from ..runtime import task_clients
from .address import resolve_address
from .connection import Connection, pulled, rebuild_failure
from .engines import Engines
from .task_client import properties_changed


class MultiEngineClient:
    """Commands to the engines of the cluster at ``address`` (as TaskClient's). ``targets``:
    "all" (the default), an engine id, or a list of ids. Results come as a list in the order
    of the targets (one value, not a list, for a single int target)."""

    def __init__(self, address=None, secret=None):
        host, port = resolve_address(address)
        # Inside a task, the secret the executor was given (clients made there are closed with it).
        self.connection = Connection.to(host, port, secret=secret or task_clients.secret())
        self.address = self.connection.address
        self.engines = Engines(self.connection)

    def get_ids(self):
        """The ids of the engines connected now."""
        return self.engines.refresh()

    def _run(self, op, args, targets):
        ids = self.engines.targets(targets)
        answers = self.engines.commands(ids, op, args)
        for engine in ids:
            if not answers[engine]["ok"]:
                raise rebuild_failure(answers[engine], "engine {}".format(engine))
        values = [pulled(answers[e], "value") for e in ids]
        return values[0] if isinstance(targets, int) else values

    def execute(self, lines, targets="all"):
        """Runs the code ``lines`` in the namespace of each target engine; raises the first
        failure. What it prints shows here, marked with its task."""
        compile(lines, "<execute>", "exec")   # a syntax error shows here, not on the engines
        with raised_as_local:   # the caller's frames, then the engine's
            self._run("execute", lines, targets)

    def push(self, namespace, targets="all"):
        """Puts the names and values of the dict ``namespace`` into each target's namespace."""
        if not isinstance(namespace, dict):
            raise TypeError("push takes a dict of names and values, not {}".format(type(namespace).__name__))
        self._run("push", dict(namespace), targets)

    def pull(self, keys, targets="all"):
        """The value of ``keys`` (a name, or a list of names: a list of values) on each target."""
        names = [keys] if isinstance(keys, str) else list(keys)
        with raised_as_local:
            values = self._run("pull", names, targets)
        shape = (lambda d: d[keys]) if isinstance(keys, str) else (lambda d: [d[n] for n in names])
        return shape(values) if isinstance(targets, int) else [shape(v) for v in values]

    def reset(self, targets="all"):
        """Empties the namespace of each target (its properties stay)."""
        self._run("reset", None, targets)

    def get_properties(self, keys=None, targets="all"):
        """Each target's properties dict (only ``keys`` of it, if given)."""
        return self._run("get_properties", None if keys is None else list(keys), targets)

    def set_properties(self, properties, targets="all"):
        """Updates each target's properties with the dict ``properties``; the TaskClients of
        this process schedule their waiting tasks again (others need ``spin()``)."""
        if not isinstance(properties, dict):
            raise TypeError("set_properties takes a dict, not {}".format(type(properties).__name__))
        self._run("set_properties", dict(properties), targets)
        properties_changed(self.address)

    def clear_properties(self, targets="all"):
        self._run("clear_properties", None, targets)
        properties_changed(self.address)

    def close(self):
        self.connection.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        return "<MultiEngineClient {}:{}>".format(*self.address)
