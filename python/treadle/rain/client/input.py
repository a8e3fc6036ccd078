"""Rain's Input: how a task takes a data object. For ``@remote`` functions (in ``inputs=`` or
as a parameter's type hint): ``load`` (call ``load()`` on it first) and ``content_type`` (the
object must have that type or none, else the task fails; '' asks nothing). ``label``,
``path``, ``dataobj`` and ``write`` are for Execute and Program."""

from ..common import check_content_type


class Input:
    def __init__(self, label=None, path=None, dataobj=None, load=None, content_type=None, write=False):
        if label is not None and not isinstance(label, str):
            raise TypeError("an Input's label is a str, not {!r}".format(label))
        check_content_type(content_type)
        self.label = label
        self.path = path
        self.dataobj = dataobj
        self.load = load
        self.content_type = content_type
        self.write = write

    def __repr__(self):
        parts = [repr(self.label)] if self.label else []
        if self.content_type:
            parts.append("content_type={!r}".format(self.content_type))
        if self.load:
            parts.append("load=True")
        return "<Input {}>".format(" ".join(parts))
