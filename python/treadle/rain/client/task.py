"""Rain's Task: a node of a session's graph with its outputs (a LabeledList of DataObjects),
built on a core Task (treadle.core.task) that declares those outputs.

``spec`` is what the client said (its ``user`` dict may change until submit); ``info`` is what
the server recorded, None until ``update()`` (or a fetch of one of its outputs) asks for it.
"""

from ...core.task import OutputSpec
from ..common import ID, LabeledList, RainException, TaskSpec, TaskSpecInput
from .data_object import DataObject
from .active import active_session

DEFAULT_LABEL = "output"   # a task's only output when nothing names it


class Task:
    """A task of the active session (or of ``session``). ``outputs``: its DataObjects, by
    position and by label; ``output``: the only one (an error for zero or several).
    ``config``: its spec's config (JSON-like); ``before_submit``: called with the task when
    its session submits it (a @remote task puts its spec's ``user`` into its config then)."""

    def __init__(self, core_task, outputs, session=None, config=None, before_submit=None):
        self.session = session or active_session()
        self.core = core_task
        self.handle = None
        self.state = None          # None, then "submitted", "finished" or "failed" as the client learns it
        self.info = None
        self.before_submit = before_submit
        request = core_task.resource_request
        self._spec = TaskSpec(task_type=core_task.task_type or "", config=config,
                              resources={"cpus": request.cpus if request is not None else 0})
        self._spec_ids = False   # spec's ids filled in (once submitted, when first asked)
        # Declared, so that labels and content types travel with the plan; but one output
        # labelled "output" without a content type (Concat, Sleep, @remote's) goes as HyperLoom's
        # one unnamed output: the client knows its label, and each declared output costs a
        # submit ~20 µs (bench 9a).
        if len(outputs) != 1 or outputs[0].label != DEFAULT_LABEL or outputs[0].content_type:
            core_task.declare_outputs([OutputSpec(o.label, o.content_type) for o in outputs])
        self.outputs = LabeledList([DataObject(self, k, o) for k, o in enumerate(outputs)],
                                   [o.label for o in outputs])
        self.inputs = self.session.rain_inputs(core_task)   # the DataObjects it reads, in order
        self.session.add_task(self)

    @property
    def spec(self):
        if not self._spec_ids and self.handle is not None:
            # Filled when asked, not at submit: a submit of many tasks does not pay for it.
            self._spec_ids = True
            spec = self._spec
            spec.id = ID(self.session.session_id, self.handle.task_id)
            spec.outputs = [o.spec.id for o in self.outputs]
            spec.inputs = [TaskSpecInput(id=i.spec.id, label=i.label) for i in self.inputs]
        return self._spec

    @property
    def id(self):
        return self.spec.id

    @property
    def name(self):
        return self.core.label

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

    def update(self):
        """Fetches the task's info (and its outputs') from the server."""
        self.session.update([self])

    # -- the session's side --------------------------------------------------------------------

    def submitted(self, handle):
        self.handle = handle
        self.state = "submitted"

    @property
    def task_id(self):
        return None if self.handle is None else self.handle.task_id

    def __repr__(self):
        name = self.core.label or self.core.task_type
        return "<Task {}{}>".format(name, " id={}".format(self.task_id) if self.handle is not None else "")


def input_ref(value):
    """The core input for a DataObject (or a one-output Task) given as an input."""
    return data_object_of(value).core_ref()


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
