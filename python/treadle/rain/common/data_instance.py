"""Rain's DataInstance: the bytes of a data object with its content type and attributes; a
directory's bytes are a tar archive, written out as a directory."""

import io
import os

from ...core.local_traceback import raised_from_call
from .attributes import ObjectInfo, ObjectSpec
from .content_types import check_content_type, decode_value
from .errors import RainException


class DataInstance:
    """An object's content: ``get_bytes()`` (a tar for a directory), ``load()`` (decoded by its
    content type), ``write(path)`` and ``link(path)`` (a file, or a directory). ``spec``/``info``:
    the object's attributes (in a task: of its input object; in the client: of the fetched
    object). ``content_type``: the info's when the task set one, else the spec's."""

    def __init__(self, data, content_type=None, data_object=None, data_type=None, spec=None, info=None):
        self._data = bytes(data)
        check_content_type(content_type)
        self.content_type = content_type or ""
        self.data_object = data_object
        # Directories have the content type "dir", which is all a Python task is told of its inputs.
        self.data_type = data_type or ("dir" if self.content_type == "dir" else "blob")
        self.spec = spec if spec is not None else ObjectSpec(content_type=self.content_type, data_type=self.data_type)
        self.info = info if info is not None else ObjectInfo(size=len(self._data), content_type=self.content_type)
        self._loaded = None

    def get_bytes(self):
        return self._data

    def load(self, cache=False):
        """The value the bytes encode (pickle, json, text...); ``cache``: decode once. An
        error (no content type, a directory, bad bytes) reads as raised at the caller's line."""
        with raised_from_call:
            if self.data_type == "dir":
                raise RainException("a directory cannot be loaded: get_bytes() gives its tar, write(path) unpacks it")
            if cache and self._loaded is not None:
                return self._loaded[0]
            value = decode_value(self._data, self.content_type)
            if cache:
                self._loaded = (value,)
            return value

    def write(self, path):
        """A fresh copy at ``path`` (a file, or a directory for a directory object)."""
        if self.data_type != "dir":
            with open(path, "wb") as f:
                f.write(self._data)
            return
        import tarfile   # here: an executor's first @remote task imports this module, rarely writes a directory
        with tarfile.open(fileobj=io.BytesIO(self._data)) as archive:
            members = archive.getmembers()
            for member in members:
                # The same rule as the workers': nothing outside the directory.
                parts = member.name.split("/")
                if member.name.startswith("/") or ".." in parts or member.islnk() and ".." in member.linkname:
                    raise RainException("directory entry {!r} leaves the directory".format(member.name))
            os.makedirs(path, exist_ok=True)
            archive.extractall(path, members=[m for m in members if not m.issym()])
            for member in members:  # links last: nothing of this archive is written through one
                if member.issym():
                    os.symlink(member.linkname, os.path.join(path, member.name))

    def link(self, path):
        """Rain maps a read-only link to the governor's copy where it has a file; the client (and
        a treadle worker, which keeps objects in memory) has none, so this writes, as Rain's
        client does."""
        self.write(path)

    def __len__(self):
        return len(self._data)

    def __repr__(self):
        return "<DataInstance {} bytes{}>".format(len(self._data),
                                                  ", " + self.content_type if self.content_type else "")
