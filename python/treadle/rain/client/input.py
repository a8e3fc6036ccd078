"""Rain's Input and InputDir: how a data object is given to a task (Execute's file mappings:
label, path, write or link; a Program's named slot without a data object)."""

from ..common import RainException, check_content_type
from .data_object import DataObject
from .task import Task


class Input:
    """An input of a task: ``label``, ``path`` (the file name in an Execute sandbox; the label
    when not given), ``dataobj`` (None in a ``Program``: filled when it is called), ``write``
    (a writable copy instead of Rain's read-only link), ``content_type`` (the content type the
    object must have), ``load`` (for Python tasks)."""

    data_type = "blob"

    def __init__(self, label=None, path=None, dataobj=None, load=None, content_type=None, write=False):
        if label is not None and not isinstance(label, str):
            raise RainException("an Input's label is a str, not {!r}".format(label))
        check_content_type(content_type)
        self.label = label
        self.path = path
        self.dataobj = None if dataobj is None else data_object_of(dataobj, self.data_type, "Input {!r}".format(label))
        self.load = load
        self.content_type = content_type
        self.write = bool(write)

    def __repr__(self):
        return "<{} {!r}{}>".format(type(self).__name__, self.label,
                                    " path={!r}".format(self.path) if self.path is not None else "")


class InputDir(Input):
    """An input that is a directory: mapped into an Execute sandbox as a directory."""

    data_type = "dir"


def data_object_of(value, data_type=None, where="this input"):
    """The DataObject of ``value`` (a DataObject, or a task with one output); with ``data_type``
    ("blob" or "dir") a clear error when the object is of the other type."""
    if isinstance(value, Task):
        value = value.output
    if not isinstance(value, DataObject):
        raise RainException("{} needs a data object or a task with one output, not {!r}".format(where, value))
    if data_type is not None and value.data_type != data_type:
        raise RainException("{} needs a {} but {!r} is a {}{}".format(
            where, _type_name(data_type), value, _type_name(value.data_type),
            " (use InputDir for a directory)" if value.data_type == "dir" else " (use Input for a blob)"))
    return value


def _type_name(data_type):
    return "directory" if data_type == "dir" else "blob"
