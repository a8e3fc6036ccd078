"""A cell's error that went through treadle reads as the cell's own (docs/kernel.md): the
traceback IPython shows keeps the cell's frames and the task's, without treadle's frames nor
IPython's machinery around a cell magic.

IPython hides frames that set ``__tracebackhide__``, but never the last one, and not its own:
a failing ``%%treadle task`` cell showed ``get_ipython().run_cell_magic(...)``, IPython's
``run_cell_magic`` and "skipping hidden N frames" before the task's lines; an interrupt that
landed in a wait showed the client's frames it came through; a syntax error in a task cell
listed the magic's frames. Wrapping the shell's ``showtraceback``, this cuts those entries out
of the error's traceback before it is shown, for an error that concerns treadle only (a task's
failure, or one that came through treadle's modules): other errors are left as they are.

A task's story (``%treadle why``, ``client.story``) names a cell's frames the same way: the
text the worker sent says ``File "/tmp/xpython_*/*.py"``, the shell's tracebacks ``Cell In [3]``."""

import linecache
import os
import re
import sys

import IPython

from ..core import source_names
from ..core.local_traceback import is_task_failure
from ..core.remote_exception import is_treadle_frame

_IPYTHON_DIR = os.path.dirname(os.path.abspath(IPython.__file__)) + os.sep
_MAGIC_CALL = "get_ipython().run_cell_magic('treadle',"


def _is_machinery(entry):
    """treadle's frames, IPython's, its generated magic decorators, and the line a
    ``%%treadle`` cell becomes (``get_ipython().run_cell_magic('treadle', ...)``)."""
    frame = entry.tb_frame
    filename = frame.f_code.co_filename
    if frame.f_locals.get("__tracebackhide__") or filename.startswith("<decorator-gen-"):
        return True
    if is_treadle_frame(filename) or os.path.abspath(filename).startswith(_IPYTHON_DIR):
        return True
    if frame.f_code.co_name == "<module>":
        return linecache.getline(filename, entry.tb_lineno).lstrip().startswith(_MAGIC_CALL)
    return False


def _entries(tb):
    while tb is not None:
        yield tb
        tb = tb.tb_next


def concerns_treadle(error):
    """A task's failure, or an error raised in or through treadle's modules."""
    if is_task_failure(error):
        return True
    return any(is_treadle_frame(e.tb_frame.f_code.co_filename) for e in _entries(error.__traceback__))


def trim(error):
    """Cuts the machinery's entries out of ``error``'s traceback, keeping its first entry (the
    shell's ``run_code``, which IPython skips by position). A SyntaxError a magic raised keeps
    none: it shows as a cell's own, its line and a caret."""
    entries = list(_entries(error.__traceback__))
    if not entries:
        return
    if isinstance(error, SyntaxError) and not is_task_failure(error):
        error.__traceback__ = None   # a task's (its code's eval, say) keeps the task's frames
        return
    kept = [entries[0]] + [e for e in entries[1:] if not _is_machinery(e)]
    if len(kept) == len(entries):
        return
    for entry, after in zip(kept, kept[1:] + [None]):
        entry.tb_next = after
    error.__traceback__ = kept[0]


# A frame's line in a traceback's text: '  File "/tmp/xpython_12/345.py", line 3, in f'.
_FRAME_FILE = re.compile(r'File "([^"\n]+)", line (\d+)')


def cells_named(text, shell, with_lines=False):
    """``text`` (a task's failure, as a story shows it) with each frame in a cell's file named
    as the shell's own tracebacks name it: ``Cell In [3], line 2`` (not the file the kernel
    compiled the cell to, /tmp/xpython_*/*.py or /tmp/ipykernel_*/*.py). ``with_lines``: the
    cell's line under such a frame too, as a traceback shows it (the worker never had the
    cell's file, so its traceback has none)."""
    cells = getattr(shell.compile, "_filename_map", None)  # private-ok: IPython's tracebacks read it so
    if not cells:
        return text
    lines = text.split("\n")
    named = []
    for i, line in enumerate(lines):
        match = _FRAME_FILE.search(line)
        number = cells.get(match.group(1)) if match else None
        if number is None:
            named.append(line)
            continue
        named.append(line[:match.start()] + "Cell In [{}], line {}".format(number, match.group(2)) + line[match.end():])
        if with_lines:
            source = linecache.getline(match.group(1), int(match.group(2))).strip()
            following = lines[i + 1].strip() if i + 1 < len(lines) else ""
            if source and following != source:
                named.append(line[:len(line) - len(line.lstrip())] + "  " + source)   # as Python indents it
    return "\n".join(named)


class CellTracebacks:
    """Wraps the shell's ``showtraceback`` (install/close)."""

    def __init__(self, shell):
        self.shell = shell
        self._showtraceback = None

    def install(self):
        self._showtraceback = self.shell.showtraceback
        self.shell.showtraceback = self._trimmed_showtraceback
        source_names.set_source_namer(lambda text, with_lines: cells_named(text, self.shell, with_lines))

    def close(self):
        source_names.set_source_namer(None)
        if self._showtraceback is not None and \
                self.shell.__dict__.get("showtraceback") == self._trimmed_showtraceback:
            self.shell.showtraceback = self._showtraceback

    def _trimmed_showtraceback(self, exc_tuple=None, *args, **kwargs):
        try:
            # As the shell finds it with no exc_tuple: the error being handled, else the last one.
            error = exc_tuple[1] if exc_tuple is not None else (sys.exc_info()[1] or getattr(sys, "last_value", None))
            if isinstance(error, BaseException) and concerns_treadle(error):
                trim(error)
                exc_tuple = (type(error), error, error.__traceback__)
        except Exception:  # never in the way of showing the error
            pass
        return self._showtraceback(exc_tuple, *args, **kwargs)
