"""Rain's LabeledList: a list that is also indexed by its items' labels."""


class LabeledList(list):
    """``items`` with ``labels`` (one per item, or None): ``l[0]`` and ``l["label"]``."""

    def __init__(self, items=(), labels=None):
        super().__init__(items)
        self.labels = list(labels) if labels is not None else [None] * len(self)
        if len(self.labels) != len(self):
            raise ValueError("a LabeledList needs one label per item")

    def __getitem__(self, key):
        if isinstance(key, str):
            try:
                return super().__getitem__(self.labels.index(key))
            except ValueError:
                raise KeyError("no item labelled {!r} (labels: {})".format(key, self.labels)) from None
        return super().__getitem__(key)

    def get_label(self, index):
        return self.labels[index]

    def items(self):
        return list(zip(self.labels, self))
