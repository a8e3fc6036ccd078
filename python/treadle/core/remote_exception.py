"""A task's exception, carried from the executor that ran it to the client that waits for it.

The executor packs the exception (pickled, when it can be) with the frames of its traceback
as plain (file, line, function) tuples, leaving out treadle's own frames. The client rebuilds
an exception that is both the task's type (``except ZeroDivisionError`` catches it) and
treadle's task error, whose traceback holds those frames as real frames: Python and IPython
render them with the client's own ``linecache``, so a function defined in a notebook cell
shows the cell's name and its source line, as a local call would.
"""

import linecache
import os
import pickle
import re
import sys
import traceback
import weakref

from .exception_fields import copy_fields, pack_fields, restore_fields
from .pickling import dumps

# The package's folder: frames of any of its modules are treadle's, not the task's.
_TREADLE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_MAX_FRAMES = 100          # a RecursionError keeps its first and last frames
_MAX_EXCEPTION = 1 << 18   # bytes of the pickled exception; a bigger one travels as text only
_MAX_CHAIN = 5             # causes and contexts kept
_MAX_SOURCE = 1 << 18      # characters of a code string's source sent with a failure


# -- in the executor ----------------------------------------------------------------------------

def is_treadle_frame(filename):
    return os.path.abspath(filename).startswith(_TREADLE_DIR)


def user_frames(tb):
    """The traceback's frames outside treadle's own modules, as (file, line, function, module, source)."""
    frames = []
    while tb is not None:
        code = tb.tb_frame.f_code
        if not is_treadle_frame(code.co_filename):
            line = linecache.getline(code.co_filename, tb.tb_lineno, tb.tb_frame.f_globals).rstrip()
            frames.append((code.co_filename, tb.tb_lineno, code.co_name,
                           str(tb.tb_frame.f_globals.get("__name__", "")), line))
        tb = tb.tb_next
    if len(frames) > _MAX_FRAMES:
        frames = frames[:10] + frames[-(_MAX_FRAMES - 10):]
    return frames


def without_treadle_frames(tb):
    """The traceback ``tb`` from its first frame outside treadle's modules on."""
    while tb is not None and is_treadle_frame(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return tb


_shown_as_main = []   # "module." prefixes of class names that failure texts leave out


def show_as_main(module_name):
    """Failure texts name the classes of ``module_name`` without their module, as Python names
    ``__main__``'s: for the SCOOP program, which workers import under another name."""
    if module_name + "." not in _shown_as_main:
        _shown_as_main.append(module_name + ".")


def as_main(text):
    """``text`` (a formatted exception) with the class names of show_as_main's modules bare."""
    for prefix in _shown_as_main:
        text = re.sub(r"^" + re.escape(prefix), "", text, flags=re.M)
    return text


def pack(error):
    """The bytes the client rebuilds ``error`` from (see ``rebuild``)."""
    return pickle.dumps(_describe(error, _MAX_CHAIN), protocol=pickle.HIGHEST_PROTOCOL)


def _describe(error, depth):
    try:
        exception = dumps(error)
        if len(exception) > _MAX_EXCEPTION:
            exception = None
    except Exception:  # not picklable: the client gets the text
        exception = None
    # One that does not pickle (an attribute holding a lock, a socket) still travels as its type,
    # its args and the attributes that do pickle; the others are named in a note.
    dropped = []
    parts = _parts(error) if exception is not None else _parts(error, dropped)
    fields = pack_fields(error) if exception is not None else None
    frames = user_frames(error.__traceback__)
    described = {
        "exception": exception,
        "parts": parts,
        "fields": fields,   # what pickling it dropped (slots, built-in members)
        "dropped": dropped if parts is not None else [],   # attributes that did not pickle
        "text": as_main("".join(traceback.format_exception_only(type(error), error)).rstrip()),
        "line": _exception_line(error),
        "where": list(getattr(error, "_treadle_where", ())),
        "type": (type(error).__module__, type(error).__qualname__),
        "notes": [str(note) for note in getattr(error, "__notes__", None) or ()][:20],
        "frames": frames,
        "sources": _code_string_sources(frames, error),
        "cause": None,
        "context": None,
        "suppress_context": bool(error.__suppress_context__),
    }
    if depth > 0:
        for link in ("cause", "context"):
            linked = getattr(error, "__{}__".format(link))
            if linked is not None and linked is not error:
                described[link] = _describe(linked, depth - 1)
    return described


def _code_string_sources(frames, error):
    """{pseudo-file name: its whole source} for the code strings (``<treadle cell 1a2b3c4d>``,
    runtime.code_strings) the frames or a SyntaxError name: the client has no file to read them
    from, and each line of a frame or a debugger's listing needs its context."""
    names = {frame[0] for frame in frames}
    if isinstance(error, SyntaxError) and isinstance(error.filename, str):
        names.add(error.filename)
    sources = {}
    for name in names:
        entry = linecache.cache.get(name) if name.startswith("<") and name.endswith(">") else None
        if entry is not None and len(entry) == 4 and entry[2]:
            source = "".join(entry[2])
            if len(source) <= _MAX_SOURCE:
                sources[name] = source
    return sources


def _exception_line(error):
    """The exception's own line(s) as ``str()`` of its task error shows them: without its notes
    and an exception group's members, which Python prints after it (once). A task's error that
    a nested task raised is that task's line: the chain of tasks is in its "where" lines."""
    nested = getattr(error, "_treadle_line", None)
    if nested is not None:
        return nested
    try:
        shown = traceback.TracebackException(type(error), error, None, compact=True)
        shown.__notes__ = None
        return as_main("".join(shown.format_exception_only()).rstrip())
    except Exception:
        return None


def _parts(error, dropped=None):
    """Its type, args and attributes, pickled: what the client remakes it from when unpickling
    cannot (an ``__init__`` that takes more required arguments than its args: see _exception).
    Only for a type pickled as every exception is: one with a ``__reduce__`` of its own decides.
    ``dropped``: leave out the attributes that do not pickle, adding their names to it."""
    if type(error).__reduce__ is not BaseException.__reduce__:
        return None
    state = dict(getattr(error, "__dict__", {}))
    for name, value in list(state.items()) if dropped is not None else ():
        try:
            dumps(value)
        except Exception:
            dropped.append("{} (a {})".format(name, _type_name(value)))
            del state[name]
    try:
        parts = dumps((type(error), error.args, state))
    except Exception:
        return None
    return parts if len(parts) <= _MAX_EXCEPTION else None


def _type_name(value):
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else "{}.{}".format(kind.__module__, kind.__qualname__)


# -- in the client ------------------------------------------------------------------------------

class RemoteError(Exception):
    """An exception of a task that could not travel as itself: its text."""


def rebuild(packed, task_error_class, init_args):
    """The task's exception as an instance of both its type and ``task_error_class`` (given
    the attributes ``init_args`` set), or None when it cannot be rebuilt."""
    try:
        described = pickle.loads(packed)
        error = _combined(_exception(described), task_error_class, init_args)
    except Exception:
        return None
    if error is None:
        return None
    # str() is the task error's: which task, where, and the exception's own line.
    task_id, origin_id, label, task_type, text = init_args
    error._task_error_message = str(task_error_class(task_id, origin_id, label, task_type,
                                                     _failure_summary(error, described, origin_id, text)))
    _attach_history(error, described, _MAX_CHAIN)
    # Kept for task_traceback; only on the raised error (it pickles as its plain type, so this
    # never travels), not on its causes, whose __dict__ a task may send on.
    error._treadle_task_traceback = error.__traceback__
    return error


def _exception(described):
    if described["exception"] is None and described.get("parts") is None:
        return None
    error = _unpickled(described)
    restore_fields(error, described.get("fields"))
    for attribute in described.get("dropped") or ():
        error.add_note("(its attribute {} could not be pickled: it stayed in the task)".format(attribute))
    return error


def _unpickled(described):
    if described["exception"] is not None:
        try:
            return pickle.loads(described["exception"])
        except Exception:
            if described.get("parts") is None:
                raise
    # Unpickling calls type(*args), which fails for an __init__ that takes more than its args:
    # made as _combined makes its subclass, with __new__, then its args and attributes.
    cls, args, state = pickle.loads(described["parts"])
    error = cls.__new__(cls, *args)
    error.args = args
    for name, value in state.items():
        setattr(error, name, value)
    return error


_combined_classes = weakref.WeakKeyDictionary()  # task error class -> {user type: combined type}


def combined_class(user_type, task_error_class):
    """A subclass of both: ``except user_type`` and ``except task_error_class`` catch it. Its
    name is the user's, so a notebook shows ``ZeroDivisionError``. None if they cannot mix."""
    if issubclass(user_type, task_error_class):
        return user_type
    by_type = _combined_classes.setdefault(task_error_class, weakref.WeakKeyDictionary())
    combined = by_type.get(user_type)
    if combined is None:
        try:
            combined = type(user_type.__name__, (user_type, task_error_class), {
                "__module__": user_type.__module__,
                "__qualname__": user_type.__qualname__,
                "__doc__": user_type.__doc__,
                "__str__": _combined_str,
                "__reduce__": _combined_reduce,
            })
        except TypeError:  # final types, conflicting layouts
            return None
        by_type[user_type] = combined
    return combined


def _combined_str(self):
    return self._task_error_message


_WORKER_LINE = re.compile(r"\(on worker ([^\n]*)\)\s*$")
_INPUT_PREFIX = re.compile(r"^input task \d+(?: \([^\n]*?\))? failed: ")  # the server's, for dependents


def _failure_summary(error, described, origin_id, text):
    """What str() says after "Task id=N failed: ": the exception's line, then where it failed.
    A failure that came through nested tasks (a task raised what a task it waited on raised)
    names its innermost line once, and one "(on worker W, task N)" line per task of the chain.
    Also kept on ``error``: a task that raises it again sends them on (_describe)."""
    line = described.get("line")
    if line is None:
        return short_failure_text(text, described["text"])
    where = list(described.get("where") or ())
    worker = _WORKER_LINE.search(text)
    if worker:
        where.append("(on worker {}, task {})".format(worker.group(1), origin_id) if where else worker.group(0))
    error._treadle_line = line
    error._treadle_where = [w if ", task " in w else w[:-1] + ", task {})".format(origin_id) for w in where]
    dependent_of = _INPUT_PREFIX.match(text)
    return (dependent_of.group(0) if dependent_of else "") + "\n".join([line] + where)


def short_failure_text(error, exception_text):
    """The failure's text with the traceback cut down to its exception line(s), which is all
    str() needs to say: the frames are the exception's traceback now."""
    start = error.find("Traceback (most recent call last):")
    end = error.rfind(exception_text)
    if start < 0 or end < start:
        return error
    return error[:start] + error[end:]


def _combined_reduce(self):
    # Pickled again (sent on to another process), it is the task's plain exception type.
    return (type(self).__bases__[0], self.args)


def _combined(exception, task_error_class, init_args):
    if not isinstance(exception, Exception):
        return None  # SystemExit and KeyboardInterrupt of a task stay task errors
    cls = combined_class(type(exception), task_error_class)
    if cls is None:
        return None
    # Made as unpickling makes an exception (the type's new with its args, then its state),
    # and given the task error's attributes without its __init__, which would change args.
    try:
        error = cls.__new__(cls, *exception.args)
        error.args = exception.args
        reduced = exception.__reduce__()
        state = dict(reduced[2]) if len(reduced) > 2 and isinstance(reduced[2], dict) else {}
        state.update(getattr(exception, "__dict__", {}))
        for name, value in state.items():
            setattr(error, name, value)
    except Exception:
        return None
    copy_fields(exception, error)
    task_error_class.init_attributes(error, *init_args)
    return error


def _attach_history(error, described, depth):
    """Gives ``error`` the remote frames as its traceback, and its causes and contexts."""
    for filename, source in (described.get("sources") or {}).items():
        _remember_whole_source(filename, source)
    try:
        error.__traceback__ = _traceback(described["frames"])
    except Exception:
        pass
    if depth <= 0:
        return
    for link in ("cause", "context"):
        linked = described.get(link)
        if linked is None:
            continue
        try:
            exception = _exception(linked)
        except Exception:
            exception = None
        if not isinstance(exception, BaseException):
            exception = _stand_in(linked)
        _attach_history(exception, linked, depth - 1)
        setattr(error, "__{}__".format(link), exception)
    error.__suppress_context__ = described["suppress_context"]


_stand_in_classes = {}


def _stand_in(described):
    """A RemoteError in place of a cause or context that could not travel (it holds a lock,
    or its class cannot be unpickled here), under its type's own name: a traceback shows
    ``HoldsLock: db connection dropped`` as locally, not treadle's class."""
    text = described["text"]
    module, qualname = described.get("type") or (None, None)
    if not isinstance(qualname, str) or not isinstance(module, str):
        return RemoteError(text)
    cls = _stand_in_classes.get((module, qualname))
    if cls is None:
        cls = type(qualname.rpartition(".")[2], (RemoteError,), {"__module__": module, "__qualname__": qualname})
        if len(_stand_in_classes) > 100:
            _stand_in_classes.clear()
        _stand_in_classes[(module, qualname)] = cls
    line = described.get("line") or text
    for prefix in (module + "." + qualname + ": ", qualname + ": "):
        if line.startswith(prefix):
            line = line[len(prefix):]
            break
    stand_in = cls(line)
    if described.get("notes"):
        stand_in.__notes__ = list(described["notes"])
    return stand_in


def task_traceback(error):
    """The task's own frames of a rebuilt ``error`` (None for a failure that has none): what its
    traceback is once raised to the caller, without the client's frames it went through, nor
    those a re-raise of the same error added before (core.local_traceback)."""
    return getattr(error, "_treadle_task_traceback", None)


class _Marker(Exception):
    pass


def _traceback(frames):
    """A chain of real traceback entries, one per remote frame, each at (file, line, function):
    what tracebacks, IPython and debuggers display like any other frame."""
    first = last = None
    for filename, lineno, name, module, source in frames:
        _remember_source(filename, lineno, source)
        entry = _frame(filename, lineno, name, module)
        if entry is None:
            continue
        if last is None:
            first = entry
        else:
            last.tb_next = entry
        last = entry
    return first


def rebuilt_frame(filename, lineno, name, module):
    """One traceback entry at line ``lineno`` of ``filename`` (its text from linecache), in a
    function ``name``: a frame the caller shows as its own (a %%treadle submit cell's line)."""
    return _frame(filename, lineno, name, module)


_frame_code = {}


def _frame(filename, lineno, name, module):
    if not isinstance(lineno, int) or not 0 < lineno < 1_000_000:
        return None
    line = linecache.getline(filename, lineno)
    indent = len(line) - len(line.lstrip()) if line.strip() and lineno > 1 else 0
    key = (filename, lineno, name, indent)
    code = _frame_code.get(key)
    if code is None:
        # A raise on line `lineno` of `filename`. It spans two lines so that no column range
        # is shown under the real source line, which the raise does not match; it starts
        # where the line's text does, or Python's own printer (sys.excepthook) would underline
        # the indentation and the line.
        head = "\n" * (lineno - 1) if not indent else "\n" * (lineno - 2) + "if 1:\n" + " " * indent
        code = compile(head + "raise (\n _treadle_marker)", filename, "exec")
        replace = {"co_name": name}
        if sys.version_info >= (3, 11):
            replace["co_qualname"] = name
        code = code.replace(**replace)
        if len(_frame_code) > 1000:
            _frame_code.clear()
        _frame_code[key] = code
    try:
        exec(code, {"__name__": module, "__file__": filename, "_treadle_marker": _Marker})
    except _Marker as marker:
        return marker.__traceback__.tb_next
    return None


_remembered = set()  # files whose lines linecache has only from tasks


def _remember_source(filename, lineno, source):
    """The executor's line of a file the client cannot read (a worker's own module, the code
    of a %%treadle task cell): kept in linecache so the frame still shows it. Files the client
    has (notebook cells, its own modules) win."""
    if not source or not isinstance(lineno, int) or not 0 < lineno < 100_000:
        return
    if filename not in _remembered and (linecache.getline(filename, lineno) or os.path.exists(filename)):
        return
    entry = linecache.cache.get(filename)
    lines = list(entry[2]) if entry is not None and filename in _remembered else []
    lines.extend(["\n"] * (lineno - len(lines)))
    lines[lineno - 1] = source + "\n"
    linecache.cache[filename] = (0, None, lines, filename)
    _remembered.add(filename)


def _remember_whole_source(filename, source):
    """A code string's whole source (a %%treadle task cell, an IPython task's code), under its
    own pseudo-file name: the frame's line and its context, as IPython shows a cell's."""
    if filename not in _remembered and linecache.cache.get(filename) is not None:
        return   # the client made it (the kernel's magic): the same name is the same code
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    _remembered.add(filename)
