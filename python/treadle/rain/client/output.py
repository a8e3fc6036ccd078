"""Rain's Output and OutputDir: how a task's output is declared: ``label``, ``content_type``
('' : unspecified), ``encode`` (a @remote function's value is encoded so, and the content
type is that), ``size_hint`` (bytes, a hint kept on the object), and for Execute the ``path``
of the file or directory the program makes."""

from ..common import check_content_type


class Output:
    """An output of a task: its ``label`` and ``content_type`` ('' : unspecified)."""

    data_type = "blob"

    def __init__(self, label=None, path=None, content_type=None, size_hint=None, encode=None):
        check_content_type(content_type)
        check_content_type(encode)
        if encode and content_type and content_type != encode:
            raise ValueError("Output {!r}: encode={!r} and content_type={!r} must agree".format(label, encode,
                                                                                              content_type))
        self.label = label
        self.path = path
        self.content_type = encode or content_type or ""
        self.size_hint = size_hint
        self.encode = encode

    def __repr__(self):
        return "<{} {!r}{}>".format(type(self).__name__, self.label,
                                    " " + self.content_type if self.content_type else "")


class OutputDir(Output):
    """An output that is a directory (content type 'dir'): an Execute program's directory at
    ``path``, packed as one object."""

    data_type = "dir"

    def __init__(self, label=None, **kwargs):
        kwargs["content_type"] = kwargs.get("content_type") or "dir"
        super().__init__(label, **kwargs)


def outputs_of(outputs, default_label="output"):
    """A list of Output from Rain's ``outputs=`` forms: None (one output), a count, or labels
    and Output objects (an Output without a label gets one from its position)."""
    if outputs is None:
        return [Output(default_label)]
    if isinstance(outputs, bool):
        raise TypeError("outputs must be a count or a list of labels and Output objects, not a bool")
    if isinstance(outputs, int):
        if outputs < 0:
            raise ValueError("outputs must be at least 0, not {}".format(outputs))
        return [Output("{}{}".format(default_label, k) if outputs > 1 else default_label) for k in range(outputs)]
    if isinstance(outputs, (str, Output)):
        outputs = [outputs]
    result = [o if isinstance(o, Output) else Output(str(o)) for o in outputs]
    for k, o in enumerate(result):
        if o.label is None:
            o.label = "{}{}".format(default_label, k) if len(result) > 1 else default_label
    return result
