"""Rain's Input and InputDir: how a data object is given to a task (Execute's file mappings:
label, path, write or link; a Program's named slot without a data object)."""

from ..common import RainException, check_content_type
from .task import data_object_of


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
