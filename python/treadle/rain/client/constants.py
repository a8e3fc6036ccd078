"""Rain's constant objects: blob, pickled and directory (a loom/data/const task with one
labelled output; a directory's bytes are a tar archive of the client's directory)."""

import io
import os
import tarfile

from ...core.task import Task as CoreTask
from ..common import RainException, encode_value
from .output import Output, OutputDir
from .task import Task

CONST = "loom/data/const"


def blob(value, label="const", content_type=None, encode=None):
    """A constant object: bytes; a str (content type 'text'); or any value with ``encode=``
    ('pickle', 'json', ...)."""
    if encode is not None:
        if content_type is not None and content_type != encode:
            raise RainException("blob(): encode={!r} and content_type={!r} disagree".format(encode, content_type))
        data, content_type = encode_value(value, encode), encode
    elif isinstance(value, str):
        content_type = "text" if content_type is None else content_type
        data = encode_value(value, content_type) if content_type.startswith("text-") else value.encode()
    elif isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
    else:
        raise RainException("blob() takes bytes or str, or a value with encode=...; got {}".format(
            type(value).__name__))
    return _constant(Task(CoreTask(CONST, (), data, label), [Output(label, content_type=content_type)]))


def pickled(value, label="const"):
    return blob(value, label, encode="pickle")


def directory(path=None, label="const_dir"):
    """A constant directory: the tree at ``path`` on the client's file system, uploaded with the
    graph as one tar archive."""
    if not isinstance(path, (str, os.PathLike)) or not os.path.isdir(path):
        raise RainException("directory() needs the path of a directory, not {!r}".format(path))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(os.listdir(path)):
            archive.add(os.path.join(path, name), arcname=name)
    return _constant(Task(CoreTask(CONST, (), buffer.getvalue(), label), [OutputDir(label)]))


def _constant(task):
    """The object of a constant's task: data the client sends, not a task to the user (a
    progress line does not count it)."""
    task.constant = True
    return task.output
