"""Rain's DataObject: an output of a task, named (task, output) on the server."""

from ..common import DataInstance, RainException


class DataObject:
    """Output ``index`` of ``task``: ``keep()`` before submit, ``fetch()``, ``unkeep()``.
    ``data_type``: "blob", or "dir" for a directory (its bytes are a tar archive)."""

    def __init__(self, task, index, label, content_type, data_type="blob"):
        self.task = task
        self.index = index
        self.label = label
        self.content_type = content_type or ""
        self.data_type = data_type
        self._keep = False

    @property
    def session(self):
        return self.task.session

    @property
    def handle(self):
        return None if self.task.handle is None else self.task.output_handle(self.index)

    def keep(self):
        if self.task.handle is not None:
            raise RainException("keep() of {!r} after its submit: call it before".format(self))
        self._keep = True

    def unkeep(self):
        if not self._keep:
            raise RainException("{!r} is not kept".format(self))
        self._keep = False
        self.session.unkeep(self)

    def kept(self):
        return self._keep

    def fetch(self):
        """The object's content (blocks until it is computed); it must be kept."""
        if self.task.handle is None:
            raise RainException("{!r} was not submitted".format(self))
        if not self._keep:
            raise RainException("{!r} is not kept: call keep() before submit to fetch it".format(self))
        value = self.session.fetch(self)
        return DataInstance(value, self.content_type, self, data_type=self.data_type)

    def wait(self):
        self.task.wait()

    def core_ref(self):
        if self.task.handle is not None:
            if not self._keep and self.task.handle.released():
                raise RainException("{!r} was freed (not kept) and cannot be used any more".format(self))
            return self.handle
        return self.task.core.output(self.index) if len(self.task.outputs) != 1 else self.task.core

    def __repr__(self):
        return "<DataObject {} of {!r}>".format(self.label or self.index, self.task)
