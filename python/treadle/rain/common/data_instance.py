"""Rain's DataInstance: the bytes of a data object with its content type and attributes."""

import os

from .attributes import ObjectInfo, ObjectSpec
from .content_types import check_content_type, decode_value


class DataInstance:
    """An object's content: ``get_bytes()``, ``load()`` (decoded by its content type),
    ``write(path)`` / ``link(path)`` (a file with the bytes). ``spec``/``info``: the object's
    attributes (in a task: of its input object; in the client: of the fetched object).
    ``content_type``: the info's when the task set one, else the spec's."""

    def __init__(self, data, content_type=None, data_object=None, spec=None, info=None):
        self._data = bytes(data)
        check_content_type(content_type)
        self.content_type = content_type or ""
        self.data_object = data_object
        self.spec = spec if spec is not None else ObjectSpec(content_type=self.content_type)
        self.info = info if info is not None else ObjectInfo(size=len(self._data), content_type=self.content_type)
        self._loaded = None

    def get_bytes(self):
        return self._data

    def load(self, cache=False):
        """The value the bytes encode (pickle, json, text...); ``cache``: decode once."""
        if cache and self._loaded is not None:
            return self._loaded[0]
        value = decode_value(self._data, self.content_type)
        if cache:
            self._loaded = (value,)
        return value

    def write(self, path):
        """Writes the bytes to a new file ``path`` (a copy the caller may change)."""
        with open(path, "xb") as f:
            f.write(self._data)

    def link(self, path):
        """A read-only file with the bytes (Rain links the governor's copy; here, as Rain's
        client does, it falls back to writing one)."""
        self.write(path)
        os.chmod(path, 0o444)

    def __len__(self):
        return len(self._data)

    def __repr__(self):
        return "<DataInstance {} bytes{}>".format(len(self._data),
                                                  ", " + self.content_type if self.content_type else "")
