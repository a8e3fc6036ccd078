"""Rain's DataObject: an output of a task, named (task, output) on the server."""

from ...core.foreign import RefusesPickling
from ...core.local_traceback import raising_as_local
from ...core.task import object_id
from ..common import ID, ObjectSpec, RainException, SessionException


class DataObject(RefusesPickling):
    """Output ``index`` of ``task``, declared by ``output`` (an Output). ``keep()`` before
    submit, ``fetch()``, ``unkeep()``, ``wait()``, ``update()``; ``spec`` (``label``,
    ``content_type``, ``data_type``, ``user``) and ``info`` (None until update or fetch)."""

    __treadle_api__ = ("treadle.rain", "o.fetch().get_bytes()")   # core.foreign: other APIs refuse it by name

    def __init__(self, task, index, output):
        self.task = task
        self.index = index
        self.declared = output   # its Output (shared by the calls of a @remote function: not changed here)
        self._spec = None        # made when first asked for
        self.info = None
        self._keep = False

    @property
    def spec(self):
        spec = self._spec
        if spec is None:
            declared = self.declared
            spec = self._spec = ObjectSpec(label=declared.label or "", content_type=declared.content_type or "",
                                           data_type=getattr(declared, "data_type", "blob"))
        if spec.id is None and self.task.task_id is not None:   # its id, once submitted
            spec.id = ID(self.session.session_id, self.object_id)
        return spec

    def spec_if_made(self):
        """The spec if something asked for it (so may have changed it), else None."""
        return self._spec

    @property
    def size_hint(self):
        return self.declared.size_hint

    @property
    def session(self):
        return self.task.session

    @property
    def label(self):
        return self._spec.label if self._spec is not None else self.declared.label or ""

    @property
    def content_type(self):
        return self._spec.content_type if self._spec is not None else self.declared.content_type or ""

    @property
    def data_type(self):
        """"blob", or "dir" for a directory (its bytes are a tar archive)."""
        return self._spec.data_type if self._spec is not None else getattr(self.declared, "data_type", "blob")

    @property
    def object_id(self):
        """The server's id of the object (None before submit)."""
        return None if self.task.task_id is None else object_id(self.task.task_id, self.index)

    @property
    def handle(self):
        return None if self.task.task_id is None else self.task.handle.output(self.index)

    @property
    def released(self):
        """The session dropped its hold: the object goes once nobody needs it (every object not
        kept at its task's submit, or unkept since)."""
        return not self._keep and self.task.task_id is not None

    def keep(self):
        if self.task.task_id is not None:
            raise RainException("keep() of {!r} after its submit: call it before".format(self))
        self._keep = True
        self.task.session.add_kept(self.task)

    def unkeep(self):
        """Drops the keep flag: the server frees the object once nothing needs it (at once if
        its task ended and no task reads it)."""
        if not self._keep:
            raise RainException("{!r} is not kept".format(self))
        self.session.unkeep(self)

    def is_kept(self):
        return self._keep

    kept = is_kept

    @raising_as_local
    def fetch(self):
        """The object's content as a DataInstance (blocks until it is computed); it must be
        kept. Also updates ``info`` (and its task's)."""
        return self.session.fetch(self)

    @raising_as_local
    def wait(self):
        self.session.wait([self])

    @raising_as_local
    def update(self):
        self.session.update([self])

    def core_ref(self):
        """The core input naming this object (a future once submitted)."""
        if self.task.task_id is not None:
            if self.task.session.closed:   # its handles went with the session: say so, not the core's words
                raise SessionException("{!r} belongs to {}, which is closed: its objects are freed; use objects "
                                       "of open sessions as inputs".format(self, self.task.session.called()))
            if self.released:
                raise RainException("{!r} was not kept at its submit and may be freed already: keep() an object "
                                    "to use it in a later submit".format(self))
            return self.handle
        core = self.task.core
        return core.output(self.index) if len(self.task.declared) != 1 else core

    def __repr__(self):
        return "<DataObject {} of {!r}>".format(self.label or self.index, self.task)
