"""Rain's directory tasks: MakeDirectory (objects placed at paths in a new directory),
SliceDirectory (a file or a subdirectory out of one) and LoadDir (a directory of a worker's
file system). A directory object is a tar archive; the C++ built-ins rain/make_directory,
rain/slice_directory and rain/load_dir read and write it."""

import json
import posixpath

from ...core.task import Task as CoreTask
from ..common import RainException
from .output import Output, OutputDir
from .task import Task, data_object_of, input_ref

MAKE_DIRECTORY = "rain/make_directory"
SLICE_DIRECTORY = "rain/slice_directory"
LOAD_DIR = "rain/load_dir"


class _MadeDirectory(Task):
    """What make_directory returns; MakeDirectory of it is itself (the guide writes both)."""


def make_directory(paths_objects, name=None):
    """A directory of the objects at their paths: ``[(path, obj), ...]`` or ``{path: obj}``.
    A blob becomes a file (its parent directories made); a directory is placed as a
    subdirectory ("" or "." merges it into the root)."""
    if isinstance(paths_objects, _MadeDirectory):
        return paths_objects
    if isinstance(paths_objects, dict):
        paths_objects = paths_objects.items()
    try:
        pairs = [(path, obj) for path, obj in paths_objects]
    except (TypeError, ValueError):
        raise RainException("MakeDirectory needs (path, object) pairs or a dict {path: object}") from None
    paths, objects, dirs = [], [], []
    for path, obj in pairs:
        obj = data_object_of(obj, None, "MakeDirectory's {!r}".format(path))
        if not isinstance(path, str):
            raise RainException("MakeDirectory's paths are str, not {!r}".format(path))
        normal = _inside(path, "MakeDirectory path")
        if obj.data_type == "blob" and normal == "":
            raise RainException("MakeDirectory: the blob {!r} needs a file name, not {!r}".format(obj, path))
        paths.append(normal)
        objects.append(obj)
        dirs.append(obj.data_type == "dir")
    config = json.dumps({"paths": paths, "dirs": dirs}).encode()
    return _MadeDirectory(CoreTask(MAKE_DIRECTORY, tuple(input_ref(o) for o in objects), config, name),
                          [OutputDir("output")])


MakeDirectory = make_directory  # Rain's class name; MakeDirectory(make_directory(...)) is the same task


def SliceDirectory(input, path, output=None, name=None):  # noqa: N802,A002 - Rain's names
    """The file at ``path`` in directory ``input`` (a blob), or with a trailing "/" the
    subdirectory there (a directory)."""
    obj = data_object_of(input, "dir", "SliceDirectory")
    if not isinstance(path, str) or not path:
        raise RainException("SliceDirectory needs a path, not {!r}".format(path))
    _inside(path, "SliceDirectory path")
    as_dir = path.endswith("/")
    if output is None:
        output = OutputDir(path) if as_dir else Output(path)
    if (output.data_type == "dir") != as_dir:
        raise RainException("SliceDirectory of {!r} makes a {}: its output must be {}".format(
            path, "directory" if as_dir else "blob", "an OutputDir" if as_dir else "an Output"))
    return Task(CoreTask(SLICE_DIRECTORY, (input_ref(obj),), path.encode(), name), [output])


def LoadDir(path, output=None, name=None):  # noqa: N802 - Rain's name
    """A directory: the tree at ``path`` (absolute) on the worker that runs it, taken in."""
    output = output or OutputDir("output")
    if output.data_type != "dir":
        raise RainException("LoadDir makes a directory: its output must be an OutputDir")
    if not isinstance(path, str) or not path.startswith("/"):
        raise RainException("LoadDir needs an absolute path on the workers, not {!r}".format(path))
    return Task(CoreTask(LOAD_DIR, (), path.encode(), name), [output])


def _inside(path, what):
    """``path`` normalised ("" for the root); a clear error for one that leaves the directory."""
    if path.startswith("/") or ".." in path.split("/"):
        raise RainException("{} {!r} must stay inside the directory (relative, no '..')".format(what, path))
    normal = posixpath.normpath(path) if path.strip("/") else "."
    return "" if normal == "." else normal
