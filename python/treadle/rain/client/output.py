"""Rain's Output: how a task's output is declared (label, content type)."""


class Output:
    """An output of a task: its ``label`` and ``content_type`` ('' : unspecified)."""

    def __init__(self, label=None, path=None, content_type=None, size_hint=None):
        self.label = label
        self.path = path
        self.content_type = content_type or ""
        self.size_hint = size_hint

    def __repr__(self):
        return "<Output {!r}{}>".format(self.label, " " + self.content_type if self.content_type else "")


def outputs_of(outputs, default_label="output"):
    """A list of Output from Rain's ``outputs=`` forms: None (one output), a count, or labels
    and Output objects."""
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
    return [o if isinstance(o, Output) else Output(str(o)) for o in outputs]
