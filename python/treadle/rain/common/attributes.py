"""Rain's spec and info attributes of tasks and data objects (``rain.common.attributes``).

The spec is what the client said (fixed once submitted); the info is what happened, empty
until ``update()`` or ``fetch()`` asks the server (``info`` is None before that, as in Rain).
Both have a ``user`` dict for any JSON-serializable data.
"""


class ID(tuple):
    """Rain's ID: (session id, id). treadle's ids are global; the session id is the client's
    number of the session."""

    def __new__(cls, session_id, id):  # noqa: A002 - Rain's name
        return super().__new__(cls, (session_id, id))

    @property
    def session_id(self):
        return self[0]

    @property
    def id(self):
        return self[1]

    def __repr__(self):
        return "ID({}, {})".format(self[0], self[1])


class _Attributes:
    """Named attributes with defaults (``_ATTRS``: name -> factory of the default)."""

    _ATTRS = {}

    def __init__(self, **values):
        attrs = self._ATTRS
        for name in values:
            if name not in attrs:
                raise TypeError("{} has no attribute {!r}".format(type(self).__name__, name))
        self.__dict__.update({name: default() for name, default in attrs.items() if name not in values}, **values)

    def _to_json(self):
        """The attributes that are set (None, '' and empty containers are left out, as Rain)."""
        return {name: getattr(self, name) for name in self._ATTRS if getattr(self, name) not in (None, "", [], {})}

    def __repr__(self):
        return "<{} {}>".format(type(self).__name__, self._to_json())


class TaskSpecInput(_Attributes):
    """An input of a task: the object's ``id`` and its ``label``."""

    _ATTRS = {"id": lambda: None, "label": str}


class TaskSpec(_Attributes):
    """``id``, ``task_type``, ``config``, ``inputs`` (TaskSpecInput), ``outputs`` (ids),
    ``resources`` ({"cpus": n}), ``user``."""

    _ATTRS = {"id": lambda: None, "task_type": str, "config": lambda: None, "inputs": list, "outputs": list,
              "resources": dict, "user": dict}


class TaskInfo(_Attributes):
    """``error`` (non-empty: it failed), ``start_time`` (ISO 8601, UTC), ``duration`` (s),
    ``governor`` (the worker, host:port of its data address), ``debug``, ``user``."""

    _ATTRS = {"error": str, "start_time": str, "duration": lambda: None, "governor": str, "debug": str, "user": dict}


class ObjectSpec(_Attributes):
    """``id``, ``label``, ``content_type``, ``data_type`` ("blob" or "dir"), ``user``."""

    _ATTRS = {"id": lambda: None, "label": str, "content_type": str, "data_type": lambda: "blob", "user": dict}


class ObjectInfo(_Attributes):
    """``error``, ``size`` (bytes), ``content_type`` (what the task made: a sub-type of the
    spec's), ``debug``, ``user``."""

    _ATTRS = {"error": str, "size": lambda: None, "content_type": str, "debug": str, "user": dict}
