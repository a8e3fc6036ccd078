"""The IPython clients' connection to a server: a ClientBase that sends the engine's entry
points (runtime.engine) as native calls, and learns when the tasks it watches end."""

import pickle

from ..core import remote_exception
from ..core.client import ClientBase
from ..core.errors import LoomException, TaskFailed
from ..core.pickling import dumps
from ..core.task import PY_CALL, ResourceRequest, Task, shared_value
from ..runtime import task_clients
from .errors import ConnectionError, KernelError


class EngineFailure(TaskFailed, KernelError):
    """Code run on an engine raised; as with every task failure, the exception raised is also
    of the code's own exception type (``except NameError`` catches it). ``label`` says what
    ran where ("Task 3 on engine 1", "engine 2")."""

    def __init__(self, task_id, origin_id, label, task_type, error):
        self.init_attributes(task_id, origin_id, label, task_type, error)
        LoomException.__init__(self, "{} failed: {}".format(label, error))


def rebuild_failure(answer, label):
    """The exception an engine's failure answer stands for."""
    args = (None, None, label, PY_CALL, answer["error"])
    error = remote_exception.rebuild(answer["packed"], EngineFailure, args) if answer.get("packed") else None
    return error if error is not None else EngineFailure(*args)


def pulled(answer, key):
    """The values an engine's answer carries under ``key``: as they came, or unpickled name by
    name (runtime.engine pickles those that are not plain one by one)."""
    if answer.get("pickled"):
        return {name: pickle.loads(data) for name, data in answer["pickled"].items()}
    return answer[key]


class Connection(ClientBase):
    """Inside a task, closed with it; its waits give the task's cpu back."""
    api = "ipython"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        task_clients.adopt(self)
        self._functions = {}    # id(fn) -> (fn, handle of its py_value on the server)
        self.settled = {}       # task id -> True (finished) / False (failed), as the server said

    @classmethod
    def to(cls, host, port, secret=None):
        """A connection to the server at (host, port); IPython's ConnectionError if none is there."""
        try:
            return cls(host, port, secret=secret, output="print")
        except KernelError:
            raise
        except LoomException as error:
            raise ConnectionError(str(error)) from None

    def blocking(self):
        return task_clients.blocking()

    def call(self, fns_args, label, cpus, inputs=()):
        """Submits one native call per (fn, args, kwargs), in one plan; ``Ref(i)`` in them
        stands for ``inputs[i]`` (handles); ``label``: one for all, or a list. Returns their
        handles."""
        tasks, new = [], {}
        labels = label if isinstance(label, list) else [label] * len(fns_args)
        for (fn, args, kwargs), label in zip(fns_args, labels):
            known = self._functions.get(id(fn)) or new.get(id(fn))
            if known is None:
                known = new[id(fn)] = (fn, shared_value(fn))
            tasks.append(Task(PY_CALL, [known[1]] + list(inputs), dumps(("native", args, kwargs)), label=label,
                              resource_request=ResourceRequest(cpus) if cpus else None))
        handles = self.submit(tasks + [t for _, t in new.values()])
        for (fn, _), handle in zip(new.values(), handles[len(tasks):]):
            self._functions[id(fn)] = (fn, handle)   # sent once, kept on the server
        handles = handles[:len(tasks)]
        self.watch(handles)
        return handles

    def watch(self, handles):
        self.connection.watch([h.task_id for h in handles])

    def take_settled(self, timeout=0.0):
        """Waits up to ``timeout`` s for the server's word on watched tasks; returns
        (finished ids, failed ids) that came (both empty: none did)."""
        if timeout:
            with self.blocking():
                finished, failed, _ = self.connection.settled(timeout)   # a cancelled one: its handle says so
        else:
            finished, failed, _ = self.connection.settled(0.0)
        for i in finished:
            self.settled[i] = True
        for i in failed:
            self.settled[i] = False
        return finished, failed

    def outcomes(self, handles):
        """[(value, None) or (None, TaskFailed)] of settled tasks, the finished ones fetched in
        one request; releases the handles."""
        finished = [h for h in handles if self.settled.get(h.task_id)]
        values = dict(zip((h.task_id for h in finished), self.fetch(finished))) if finished else {}
        for h in finished:
            del self.settled[h.task_id]
        self.release(finished)
        # What the tasks printed came before their results: shown now, before the caller goes
        # on (in a notebook, before the cell that ran them ends).
        self.connection.poll_output()
        return [(values[h.task_id], None) if h.task_id in values else self.outcome(h) for h in handles]

    def outcome(self, handle):
        """(value, None) of a settled task, or (None, TaskFailed); releases the handle."""
        ok = self.settled.pop(handle.task_id, None)
        try:
            if ok:
                return self.fetch([handle])[0], None
            self.wait([handle])
            return self.fetch([handle])[0], None
        except TaskFailed as error:
            return None, error
        finally:
            self.release([handle])
            self.connection.poll_output()

