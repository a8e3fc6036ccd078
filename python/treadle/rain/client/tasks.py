"""Rain's built-in tasks on treadle's: Concat (loom/data/merge), Sleep (loom/base/sleep),
Execute (loom/run/run), Load, LoadDir, Store, MakeDirectory and SliceDirectory (rain/..., C++
built-ins; a directory object is a tar archive). Data types ("blob", "dir") are checked here,
while the graph is built."""

import json

from ...core.task import ResourceRequest, Task as CoreTask
from ..common import RainException
from .directories import LoadDir, MakeDirectory, SliceDirectory, make_directory
from .execute import Execute
from .input import data_object_of
from .output import Output, OutputDir
from .task import Task, input_ref, only_output_refs

MERGE = "loom/data/merge"
SLEEP = "loom/base/sleep"
LOAD = "rain/load"
STORE = "rain/store"

__all__ = ["Concat", "Execute", "Load", "LoadDir", "MakeDirectory", "SliceDirectory", "Sleep", "Store",
           "make_directory"]


def Concat(inputs, name=None):  # noqa: N802 - Rain's name
    """One blob: the inputs joined."""
    if isinstance(inputs, (str, bytes)) or not hasattr(inputs, "__iter__"):
        raise TypeError("Concat takes a list of blobs (data objects or tasks), not {}".format(type(inputs).__name__))
    inputs = list(inputs)
    refs = only_output_refs(inputs, "blob")
    if refs is not None:   # tasks not yet submitted (@remote calls, most often): no DataObjects made
        return Task(CoreTask(MERGE, tuple(refs), b"", name), [Output("output")], reads=inputs)
    objects = [data_object_of(i, "blob", "Concat") for i in inputs]
    return Task(CoreTask(MERGE, tuple(o.core_ref() for o in objects), b"", name), [Output("output")], inputs=objects)


def Sleep(input, seconds, name=None, cpus=1):  # noqa: N802,A002 - Rain's names
    """Its input (a blob or a directory), after ``seconds``."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise TypeError("Sleep: seconds must be a number, not {}".format(type(seconds).__name__))
    if not 0 <= seconds < float("inf"):
        raise ValueError("Sleep: seconds must be 0 or more, not {!r}".format(seconds))
    obj = data_object_of(input, None, "Sleep")
    output = OutputDir("output") if obj.data_type == "dir" else Output("output", content_type=obj.content_type)
    return Task(CoreTask(SLEEP, (input_ref(obj),), repr(float(seconds)).encode(), name, ResourceRequest(cpus)),
                [output])


def Load(path, output=None, name=None):  # noqa: N802 - Rain's name
    """A blob: the file at ``path`` (absolute) on the worker that runs it, taken in (a copy)."""
    output = output or Output("output")
    if output.data_type != "blob":
        raise RainException("Load makes a blob; use LoadDir for a directory")
    return Task(CoreTask(LOAD, (), _absolute(path, "Load").encode(), name), [output])


def Store(input, path, name=None):  # noqa: N802,A002 - Rain's names
    """Writes the object (a file, or a directory for a directory object) at ``path`` (absolute) on
    the worker that runs it. No outputs."""
    obj = data_object_of(input, None, "Store")
    config = json.dumps({"path": _absolute(path, "Store"), "dir": obj.data_type == "dir"}).encode()
    return Task(CoreTask(STORE, (input_ref(obj),), config, name), [])


def _absolute(path, what):
    if not isinstance(path, str) or not path.startswith("/"):
        raise RainException("{} needs an absolute path on the workers, not {!r}".format(what, path))
    return path
