"""Rain's task context (``ctx``, the first argument of a ``@remote`` function): ``debug()``,
``spec``/``info`` with their ``user`` dicts, ``blob()``/``pickled()`` results."""

from ..common import DataInstance, ID, RainException, TaskInfo, TaskSpec, encode_value


class Context:
    """``ctx.spec``: the task's spec (``user`` as the client set it); ``ctx.info``: its info,
    ``ctx.info.user`` for the task to fill, ``ctx.info.governor`` the worker running it;
    ``ctx.debug(fmt, *args)`` appends a line to the task's debug log (its ``info.debug``, and
    the end of its error if it fails). ``core``: treadle's context (``log_info`` and so on)."""

    def __init__(self, core, spec, function=None):
        self.core = core
        self.spec = spec if spec is not None else TaskSpec()
        self.spec.id = ID(self.spec.id[0] if self.spec.id else 0, core.task_id)
        self.info = TaskInfo(governor=_host_port(core.governor))
        self.function = function
        self.debug_lines = []

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
