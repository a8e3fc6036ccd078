"""Rain's Task: a node of a session's graph with its outputs (a LabeledList of DataObjects),
built on a core Task (treadle.core.task) that declares those outputs.

``spec`` is what the client said (its ``user`` dict may change until submit); ``info`` is what
the server recorded, None until ``update()`` (or a fetch of one of its outputs) asks for it.
"""

from ...core.errors import TaskCancelled
from ...core.local_traceback import raising_as_local
from ...core.task import OutputSpec
from ..common import ID, LabeledList, RainException, TaskSpec, TaskSpecInput
from .data_object import DataObject
from .active import active_session

DEFAULT_LABEL = "output"   # a task's only output when nothing names it


class Task:
    """A task of the active session (or of ``session``). ``outputs``: its DataObjects, by
    position and by label; ``output``: the only one (an error for zero or several).
    ``config``: its spec's config (JSON-like); ``maker``: an object whose ``before_submit(task)``
    the session calls when it submits the task with its core config not written (a @remote
    function writes a plain call's at the call, and the rest then, from the spec as the
    client left it: making the spec clears the config); ``call``: what the maker keeps for it;
    ``inputs``: the DataObjects it reads, in order, when the caller knows them; or ``reads``:
    the one-output tasks whose outputs it reads (their DataObjects made when asked for).

    A submit of 10,000 tasks pays for what each task holds (and for the garbage collector,
    which walks every object made), so the spec, the outputs' DataObjects and their
    LabeledList are made when first asked for, not here."""

    # What most tasks never get, until asked for: class attributes, not set per task (a submit
    # sets task_id, state and held of every task, so those are set here: adding an attribute
    # to an object later costs more than changing it).
    _handle = None      # its TaskHandle: a root's from the submit, an inner task's made when asked
    info = None
    _spec = None        # made when first asked for
    _objects = None     # the outputs' DataObjects as made (the only one, or a list with Nones)
    _outputs = None     # their LabeledList, made when first asked for
    cancelled_by_server = False   # the server said it was cancelled (watch/settled): it never ends
    constant = False    # made by blob(), pickled() or directory(): data, not a task to the user

    def __init__(self, core_task, outputs, session=None, config=None, maker=None, call=None, inputs=None, reads=None):
        self.session = session = session or active_session()
        self.core = core_task
        self.task_id = None        # the server's id, once submitted
        self.held = True           # False: an inner task of its plan, which the session holds nothing of
        self.state = None          # None, then "submitted", "finished" or "failed" as the client learns it
        self.maker = maker
        self.call = call
        self.declared = outputs    # the Output declarations (a @remote function's are shared by its calls)
        self._config = config
        # Declared, so that labels and content types travel with the plan; but one output
        # labelled "output" without a content type (Concat, Sleep, @remote's) goes as HyperLoom's
        # one unnamed output: the client knows its label, and each declared output costs a
        # submit ~20 µs (bench 9a).
        if core_task.outputs is None and (len(outputs) != 1 or outputs[0].label != DEFAULT_LABEL
                                          or outputs[0].content_type):
            core_task.declare_outputs([OutputSpec(o.label, o.content_type) for o in outputs])
        self._reads = reads
        if reads is not None:
            self._inputs = None
            session.add_task(self, True)
        else:
            self._inputs = inputs = session.rain_inputs(core_task) if inputs is None else inputs
            session.add_task(self, bool(inputs))

    @property
    def inputs(self):
        """The DataObjects it reads, in order."""
        inputs = self._inputs
        if inputs is None:
            inputs = self._inputs = [t.output_object(0) for t in self._reads]
        return inputs

    def input_tasks(self):
        """The tasks whose outputs it reads (makes no DataObject)."""
        reads = self._reads
        if reads is not None:
            return reads
        return [obj.task for obj in self._inputs] if self._inputs else ()

    @property
    def spec(self):
        spec = self._spec
        if spec is None:
            request = self.core.resource_request
            config = self._config
            spec = self._spec = TaskSpec(task_type=self.core.task_type or "",
                                         config=dict(config) if isinstance(config, dict) else config,
                                         resources={"cpus": request.cpus if request is not None else 0})
            if self.maker is not None and self.task_id is None:
                # Its user attributes may change until submit: the maker writes the config then.
                self.core.config = b""
        if spec.id is None and self.task_id is not None:
            # Filled when asked, not at submit: a submit of many tasks does not pay for it.
            spec.id = ID(self.session.session_id, self.task_id)
            spec.outputs = [o.spec.id for o in self.outputs]
            spec.inputs = [TaskSpecInput(id=i.spec.id, label=i.label) for i in self.inputs]
        return spec

    def spec_if_made(self):
        """The spec if something asked for it (so may have changed it), else None."""
        return self._spec

    @property
    def id(self):
        return self.spec.id

    @property
    def name(self):
        return self.core.label

    @property
    def outputs(self):
        outputs = self._outputs
        if outputs is None:
            outputs = self._outputs = LabeledList([self.output_object(k) for k in range(len(self.declared))],
                                                  [o.label for o in self.declared])
        return outputs

    @property
    def output(self):
        if len(self.declared) != 1:
            raise RainException("{!r} has {} outputs: use .outputs".format(self, len(self.declared)))
        return self.output_object(0)

    def output_object(self, index):
        """The DataObject of output ``index`` (a position), made on first use."""
        if len(self.declared) == 1:   # most tasks: the object itself, no list
            if self._objects is None:
                self._objects = DataObject(self, 0, self.declared[0])
            return self._objects
        objects = self._objects
        if objects is None:
            objects = self._objects = [None] * len(self.declared)
        obj = objects[index]
        if obj is None:
            obj = objects[index] = DataObject(self, index, self.declared[index])
        return obj

    def has_kept_output(self):
        objects = self._objects
        if objects is None:
            return False
        if not isinstance(objects, list):
            return objects.is_kept()
        return any(o is not None and o.is_kept() for o in objects)

    def unkept_handles(self):
        """At submit of a root: the handles of the outputs nobody kept (all of them for a task
        whose DataObjects were never made), or the task's own for a task without outputs."""
        handle = self._handle
        if not self.declared:
            return [handle]
        objects = self._objects
        if objects is None:
            return [handle] if handle.outputs is None else list(handle.outputs)
        if not isinstance(objects, list):
            objects = [objects]
        unkept = []
        for k, obj in enumerate(objects):
            if obj is None or not obj.is_kept():
                unkept.append(handle if handle.outputs is None else handle.outputs[k])
        return unkept

    def keep_outputs(self):
        for o in self.outputs:
            o.keep()

    @raising_as_local
    def fetch_outputs(self):
        return [o.fetch() for o in self.outputs]

    @raising_as_local
    def wait(self):
        self.session.wait([self])

    @raising_as_local
    def update(self):
        """Fetches the task's info (and its outputs') from the server."""
        self.session.update([self])

    # -- the session's side --------------------------------------------------------------------

    def submitted(self, task_id, handle=None):
        """Submitted as ``task_id``: a root with its ``handle``, or an inner task (None), which
        holds nothing: a submit of 10,000 tasks makes no handle for them."""
        self.task_id = task_id
        self._handle = handle
        self.held = handle is not None
        self.state = "submitted"

    @property
    def handle(self):
        """The task's TaskHandle once submitted (None before)."""
        handle = self._handle
        if handle is None and self.task_id is not None:
            handle = self._handle = self.session.client.core.unheld_handle(self.task_id, self.core.outputs)
        return handle

    def cancellation(self):
        """The core's TaskCancelled if its client cancelled this task (by its handle, or by all
        its outputs'), else None. An inner task has no handle until asked for: its state tells."""
        handle = self._handle
        if handle is None:
            return None
        outputs = handle.outputs or ()
        cancelled = handle if handle.cancelled() else (
            outputs[0] if outputs and all(o.cancelled() for o in outputs) else None)
        if cancelled is None:
            return None
        return TaskCancelled(self.task_id, cancelled.cancelled_error().reason, self.core.label)

    def mark_finished(self):
        """The task finished, so did every task it reads (a task runs once its inputs exist):
        the session watches only the tasks nothing of their submit reads."""
        if self.state != "submitted":
            return
        self.state = "finished"
        stack = [self]
        while stack:   # each task that reads others (few do: a fetch of a Concat of 10,000 walks its inputs)
            for task in stack.pop().input_tasks():
                if task.state == "submitted":
                    task.state = "finished"
                    if task._reads is not None or task._inputs:
                        stack.append(task)

    def __repr__(self):
        name = self.core.label or self.core.task_type
        return "<Task {}{}>".format(name, " id={}".format(self.task_id) if self.task_id is not None else "")


def input_ref(value):
    """The core input for a DataObject (or a one-output Task) given as an input."""
    return data_object_of(value).core_ref()


def only_output_refs(values, data_type):
    """The core inputs for ``values`` when each is a task not yet submitted whose only output
    (of ``data_type``) has no DataObject yet: a Concat of 10,000 calls makes none. Else None."""
    refs = []
    checked = None   # the last declaration found of the right kind (a @remote function's calls share theirs)
    for value in values:
        if type(value) is not Task or value.task_id is not None or value._objects is not None:
            return None
        declared = value.declared
        if declared is not checked:
            if len(declared) != 1 or getattr(declared[0], "data_type", "blob") != data_type:
                return None
            checked = declared
        refs.append(value.core)
    return refs


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
