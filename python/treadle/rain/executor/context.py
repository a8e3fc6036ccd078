"""Rain's task context (``ctx``, the first argument of a ``@remote`` function): ``debug()``,
``spec``/``info`` with their ``user`` dicts, ``blob()``/``pickled()`` results."""

from ..common import DataInstance, ID, RainException, TaskInfo, TaskSpec, encode_value


class Context:
    """``ctx.spec``: the task's spec (``user`` as the client set it); ``ctx.info``: its info,
    ``ctx.info.user`` for the task to fill, ``ctx.info.governor`` the worker running it;
    ``ctx.debug(fmt, *args)`` appends a line to the task's debug log (its ``info.debug``, and
    the end of its error if it fails). ``core``: treadle's context (``log_info`` and so on)."""

    # One is made per task: slots make it cheaper to make (bench 9a).
    __slots__ = ("core", "function", "debug_lines", "_session_id", "_spec_given", "_runner", "_spec", "_info")

    def __init__(self, core, session_id=0, spec=None, runner=None):
        self.core = core
        self.function = runner.fn if runner is not None else None
        self.debug_lines = []
        self._session_id = session_id
        self._spec_given = spec      # None, or the client's {"user", "resources"}
        self._runner = runner
        self._spec = None            # spec and info are made when the task asks for them
        self._info = None

    @property
    def spec(self):
        if self._spec is None:
            given = self._spec_given or {}
            cpus = self._runner.cpus if self._runner is not None else 1
            self._spec = TaskSpec(task_type="py", id=ID(self._session_id, self.core.task_id),
                                  user=given.get("user") or {}, resources=given.get("resources") or {"cpus": cpus})
        return self._spec

    @property
    def info(self):
        if self._info is None:
            self._info = TaskInfo(governor=_host_port(self.core.governor))
        return self._info

    def has_info(self):
        """True once the task asked for its info (so may have set ``info.user``)."""
        return self._info is not None

    @property
    def task_id(self):
        return self.core.task_id

    def debug(self, message, *args, **kwargs):
        """Adds ``message.format(*args, **kwargs)`` to the debug log."""
        if not isinstance(message, str):
            raise RainException("ctx.debug() takes a format string first, not {!r}".format(message))
        self.debug_lines.append(message.format(*args, **kwargs))

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
        return "<Context of task {}>".format(self.core.task_id)


def _host_port(address):
    """Rain's governor id (host:port) of a worker's data address (tcp://host:port)."""
    if not address:
        return ""
    return address[len("tcp://"):] if address.startswith("tcp://") else address
