"""Rain's task context (``ctx``, the first argument of a ``@remote`` function): ``debug()``,
``spec``/``info`` with their ``user`` dicts, ``blob()``/``pickled()`` results."""

from ...runtime.task_runtime import Context as CoreContext
from ..common import DataInstance, ID, RainException, TaskInfo, TaskSpec, encode_value


class Context(CoreContext):
    """``ctx.spec``: the task's spec (``user`` as the client set it); ``ctx.info``: its info,
    ``ctx.info.user`` for the task to fill, ``ctx.info.governor`` the worker running it;
    ``ctx.debug(fmt, *args)`` appends a line to the task's debug log (its ``info.debug``, and
    the end of its error if it fails). It is treadle's task context too (``log_info`` and so
    on; ``core`` is itself).

    The runner makes it (RemoteRunner.call_with_context, for a py_call config's context 2):
    one object a task, not treadle's and a Rain one (bench 9a). ``runner``: the RemoteRunner
    calling the function; spec and info are made when the task asks for them."""

    __slots__ = ("runner", "spec_given", "_debug", "_spec", "_info")

    def __init__(self, task_id, log, record=None, governor=None, input_ids=()):
        # The core context's fields (task_runtime.Context.__init__), set here: a call less per task.
        self.task_id = task_id
        self._log = log
        self._record = record
        self.governor = governor
        self.input_ids = input_ids
        self.runner = None         # the RemoteRunner calling the function
        self.spec_given = None     # None, or the client's {"user", "resources"}
        self._debug = None         # the debug lines, once there is one
        self._spec = None          # spec and info are made when the task asks for them
        self._info = None

    @property
    def core(self):
        """treadle's context: this one (kept for code that used ``ctx.core``)."""
        return self

    @property
    def function(self):
        return self.runner.fn if self.runner is not None else None

    @property
    def debug_lines(self):
        return self._debug or []

    @property
    def spec(self):
        if self._spec is None:
            given = self.spec_given or {}
            runner = self.runner
            session_id = runner.session_id if runner is not None else 0
            cpus = runner.cpus if runner is not None else 1
            self._spec = TaskSpec(task_type="py", id=ID(session_id, self.task_id),
                                  user=given.get("user") or {}, resources=given.get("resources") or {"cpus": cpus})
        return self._spec

    @property
    def info(self):
        if self._info is None:
            self._info = TaskInfo(governor=_host_port(self.governor))
        return self._info

    def has_info(self):
        """True once the task asked for its info (so may have set ``info.user``)."""
        return self._info is not None

    def debug(self, message, *args, **kwargs):
        """Adds ``message.format(*args, **kwargs)`` to the debug log."""
        if not isinstance(message, str):
            raise RainException("ctx.debug() takes a format string first, not {!r}".format(message))
        if self._debug is None:
            self._debug = []
        self._debug.append(message.format(*args, **kwargs))

    def blob(self, value, content_type=None, encode=None):
        """A result with a content type: bytes (with ``content_type``), a str ('text'), or any
        value with ``encode``."""
        if encode is not None:
            if content_type not in (None, "", encode):
                raise RainException("ctx.blob(): encode={!r} and content_type={!r} disagree".format(encode, content_type))
            return DataInstance(encode_value(value, encode), encode)
        if isinstance(value, str):
            return DataInstance(value.encode(), content_type or "text")
        if isinstance(value, (bytes, bytearray, memoryview)):
            return DataInstance(bytes(value), content_type)
        raise RainException("ctx.blob() takes bytes or str, or a value with encode=...; got {}".format(
            type(value).__name__))

    def pickled(self, value):
        return self.blob(value, encode="pickle")

    def __repr__(self):
        return "<Context of task {}>".format(self.task_id)


def _host_port(address):
    """Rain's governor id (host:port) of a worker's data address (tcp://host:port)."""
    if not address:
        return ""
    return address[len("tcp://"):] if address.startswith("tcp://") else address
