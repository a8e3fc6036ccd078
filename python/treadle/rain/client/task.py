"""Rain's Task: a node of a session's graph with its outputs (a LabeledList of DataObjects),
built on a core Task (treadle.core.task) that declares those outputs."""

from ...core.task import OutputSpec
from ..common import LabeledList, RainException
from .data_object import DataObject
from .session import active_session

DEFAULT_LABEL = "output"   # a task's only output when nothing names it


class Task:
    """A task of the active session. ``outputs``: its DataObjects, by position and by label;
    ``output``: the only one (an error for zero or several)."""

    def __init__(self, core_task, outputs, session=None):
        self.session = session or active_session()
        self.core = core_task
        self.handle = None
        # Declared, so that labels and content types travel with the plan; but one output
        # labelled "output" without a content type (Concat, Sleep, @remote's) goes as HyperLoom's
        # one unnamed output: the client knows its label, and each declared output costs a
        # submit ~20 µs (bench 9a).
        if len(outputs) != 1 or outputs[0].label != DEFAULT_LABEL or outputs[0].content_type:
            core_task.declare_outputs([OutputSpec(o.label, o.content_type) for o in outputs])
        self.outputs = LabeledList([DataObject(self, k, o.label, o.content_type, getattr(o, "data_type", "blob"))
                                    for k, o in enumerate(outputs)],
                                   [o.label for o in outputs])
        self.session.add_task(self)

    @property
    def output(self):
        if len(self.outputs) != 1:
            raise RainException("{!r} has {} outputs: use .outputs".format(self, len(self.outputs)))
        return self.outputs[0]

    def keep_outputs(self):
        for o in self.outputs:
            o.keep()

    def fetch_outputs(self):
        return [o.fetch() for o in self.outputs]

    def wait(self):
        self.session.wait([self])

    # -- the session's side --------------------------------------------------------------------

    def submitted(self, handle):
        self.handle = handle

    def output_handle(self, index):
        return self.handle.output(index)

    def release_unkept(self):
        """After it ended: outputs the client did not keep are freed (a task without outputs too)."""
        self.core_release(self.unkept_handles())

    def unkept_handles(self):
        """The handles release_unkept frees (a session frees many tasks' in one message)."""
        if self.handle is None:
            return []
        if not self.outputs:
            return [self.handle]
        return [o.handle for o in self.outputs if not o.kept()]

    def release_all(self):
        if self.handle is not None:
            self.core_release([self.handle])

    def core_release(self, handles):
        self.session.client.core.release(handles)

    def __repr__(self):
        return "<Task {}>".format(self.core.label or self.core.task_type)


def input_ref(value):
    """The core input for a DataObject (or a one-output Task) given as an input."""
    if isinstance(value, Task):
        value = value.output
    if not isinstance(value, DataObject):
        raise RainException("{!r} is not a data object or a task".format(value))
    return value.core_ref()
