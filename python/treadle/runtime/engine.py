"""An IPython engine, on the executor's side (treadle.ipython is the client's side).

Every Python executor of a worker is an engine: its namespace (``namespace``) and its
``properties`` live as long as the executor process, so a task's variables are there for the
next task the engine runs (until ``reset``, or a replacement executor after one died). The
executor names its engine when its worker says hello: the worker's name and the executor's
index among the worker's executors.

Two entry points, both called as native tasks (pickled by reference, imported from here):

- ``run_task``: the code of a load-balanced ``Task``, on whichever engine the scheduler chose;
- ``command``: an operation meant for one engine (``execute``, ``push``, ``pull``, ``reset``,
  properties, or a task routed by its ``depend``). The client cannot send a task to one
  executor, only to its worker (by locality), so it sends one copy per executor of the worker:
  the copy that lands on the named engine acts, the others answer "not me", and a command that
  comes twice (a copy sent again) acts once.
"""

import builtins
import collections
import pickle
import socket
import sys

from ..core import remote_exception
from ..core.pickling import dumps, is_plain
from . import code_strings
_identity = {"worker": None, "index": None}
namespace = {}
properties = {}
# The answers of the last commands this engine acted on, by command id: a copy that comes
# again is answered, not run again.
_answered = collections.OrderedDict()
_ANSWERED_LIMIT = 4096
_compiled = collections.OrderedDict()   # code -> its code object
_COMPILED_LIMIT = 256


def configure(worker_pid, index):
    """Called by the executor with what its worker's hello said."""
    _identity.update(worker="{}:{}".format(socket.gethostname(), worker_pid), index=index)


def identity():
    """(worker name, executor index) of this engine; (None, None) outside executors."""
    return (_identity["worker"], _identity["index"])


def reset():
    """Empties the namespace (what IPython's ``engine.reset`` did); properties stay."""
    namespace.clear()


def _failure(error):
    """A failure of user code, as data: the client rebuilds the exception (remote_exception)."""
    try:
        packed = remote_exception.pack(error)
    except Exception:
        packed = b""
    return {"engine": identity(), "ok": False, "error": "{}: {}".format(type(error).__name__, error),
            "packed": packed}


def _execute(code):
    """Runs ``code`` in the namespace. Tasks often repeat their code with other pushed values:
    the last few compiled codes are kept. Compiled straight in "exec" mode (no value of a last
    expression is wanted here): half the cost of a notebook cell's compile_cell, which matters
    when every task has a code string of its own."""
    compiled = _compiled.get(code)
    if compiled is None:
        # Under the code's own pseudo-file name, its lines in linecache first: a SyntaxError or a
        # failure shows (and sends the client, core.remote_exception) this code's lines.
        filename = code_strings.remembered(code_strings.ENGINE, code)
        compiled = _compiled[code] = compile(code, filename, "exec")
        while len(_compiled) > _COMPILED_LIMIT:
            _compiled.popitem(last=False)
    else:
        _compiled.move_to_end(code)
        code_strings.remember(compiled.co_filename, code)   # for tracebacks (linecache may have dropped it)
    namespace.setdefault("__name__", "__treadle_engine__")
    namespace.setdefault("__builtins__", builtins)
    exec(compiled, namespace)


def _pull(names):
    """The values of ``names`` in the namespace (a builtin, such as ``id``, when it has none)."""
    missing = [n for n in names if n not in namespace and not hasattr(builtins, n)]
    if missing:
        raise NameError("pull: the engine's namespace has no {}".format(", ".join(repr(n) for n in missing)))
    return {n: namespace[n] if n in namespace else getattr(builtins, n) for n in names}


def _travelling(results, key, who=""):
    """The answer's fields for the pulled values: under ``key`` as they are when they are plain
    (they always pickle), else ``pickled``, one pickle per name (bytes, which the client
    unpickles: ipython.connection.pulled), so that a value that cannot be pickled fails the
    task by its name, not as "the task's result 'dict'" from the executor's pickling of the whole."""
    if is_plain(results):
        return {key: results}
    pickled = {}
    for name, value in results.items():
        try:
            pickled[name] = dumps(value)
        except Exception as error:
            kind = type(value)
            kind = kind.__qualname__ if kind.__module__ == "builtins" else "{}.{}".format(kind.__module__,
                                                                                        kind.__qualname__)
            raise TypeError("{}pull[{!r}] (a {}) cannot be pickled ({}); pull only values that pickle".format(
                who, name, kind, error)) from None
    return {key: {}, "pickled": pickled}


def run_task(code, push, pull, clear_before=False, clear_after=False):
    """A Task's body: push, run ``code``, pull, in this engine's namespace. A failure of the
    code is returned (with the engine that had it), so the client decides about retries."""
    try:
        if clear_before:
            reset()
        # bytes: a push the client pickled at run (ipython/push.py)
        namespace.update(pickle.loads(push) if isinstance(push, bytes) else push)
        try:
            _execute(code)
            results = _travelling(_pull(pull), "results", "Task: ")
        finally:
            if clear_after:
                reset()
    except Exception as error:
        return _failure(error)
    finally:
        sys.stdout.flush()
    return {"engine": identity(), "ok": True, **results}


def _act(op, args):
    if op == "task":
        return run_task(*args)
    try:
        if op == "execute":
            _execute(args)
            value = None
        elif op == "push":
            namespace.update(args)
            value = None
        elif op == "pull":
            return {"engine": identity(), "ok": True, **_travelling(_pull(args), "value")}
        elif op == "reset":
            reset()
            value = None
        elif op == "get_properties":
            value = dict(properties) if args is None else {k: properties[k] for k in args if k in properties}
        elif op == "set_properties":
            properties.update(args)
            value = None
        elif op == "clear_properties":
            properties.clear()
            value = None
        else:
            raise ValueError("unknown engine command {!r}".format(op))
    except Exception as error:
        return _failure(error)
    finally:
        sys.stdout.flush()
    return {"engine": identity(), "ok": True, "value": value}


def command(command_id, engine, op, args, anchor=None):
    """Acts if this executor is ``engine`` (worker name, index); else answers "not me".
    ``anchor``: the input that brought the copy to the engine's worker (unused here)."""
    if identity() != tuple(engine):
        return {"engine": identity(), "acted": False}
    answer = _answered.get(command_id)
    if answer is None:
        answer = _act(op, args)
        answer["acted"] = True
        _answered[command_id] = answer
        while len(_answered) > _ANSWERED_LIMIT:
            _answered.popitem(last=False)
    return answer


class Anchor:
    """A result that stays on the worker whose engine made it: the client gives it as an input
    to the copies of a command, and the scheduler's locality sends them to that worker. It
    claims a large size (``__sizeof__``, which the executor reports) so that locality prefers
    it over the command's other inputs (the pickled function, held by other workers too)."""

    __slots__ = ("engine",)

    def __init__(self, engine):
        self.engine = tuple(engine)

    def __sizeof__(self):
        return 1 << 30

    def __reduce__(self):
        return (Anchor, (self.engine,))


def make_anchor():
    """A probe's body: this engine's Anchor."""
    return Anchor(identity())
