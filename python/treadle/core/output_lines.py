"""What tasks print, as whole lines marked with their task: ``[task 12 hello] text``.

Output arrives in pieces, (task, label, stream, bytes) items, and a line may be cut between
two of them: :class:`OutputLines` completes a line before it hands it out, so lines of
different tasks never mix, and gives back what waited too long for its end, or whose task
ended (an ``end`` item: the task's output is complete, sent after a line it did not end).
A carriage return (a progress bar rewriting its line) is followed by the mark again, so the
rewritten line still names its task. Logs from ``ctx.log_*`` go to stderr with their level.

A line that waits for its end longer than the timed ``flush`` allows (a progress bar rewriting
it with ``\\r``, a prompt) is handed out apart, as an :class:`OpenLine`: one line per task and
stream, which follows what its task prints (what it shows now: the text after its last carriage
return) until it ends (a newline, the task's end), and is then handed out once more, ended.
Only complete lines go out as stream text, so any number of tasks can each keep a line open
in one place (the notebook shows each open line as a display of its own, updated in place).
Clients print with :class:`TaskOutputPrinter`; the notebook's cell tracker assembles lines for
the cells that submitted the tasks.
"""

import collections
import itertools
import os
import re
import sys
import time

# A carriage return followed by more of the line: the text after it overwrites the mark.
_REWRITE = re.compile(r"\r+(?=[^\r])")

_line_ids = itertools.count(1)


class OpenLine(collections.namedtuple("OpenLine", "id stream text first ended")):
    """A task's line handed out before its end: ``id`` names it (the same for each of its
    states), ``text`` is what it shows now, with its task's mark; ``first``: its first state;
    ``ended``: its last (its task ended the line, or ended)."""


def prefix(task, label):
    return "[task {}{}] ".format(task, " " + label if label else "")


def _marked(head, line):
    """``line`` with its mark, and the mark again after each carriage return, ended."""
    return head + _REWRITE.sub(lambda m: m.group(0) + head, line) + "\n"


def _fold(text):
    """What is left of a line once its carriage returns rewrote it: the text after the last
    one that more text follows (a trailing one stays: what comes next replaces the line)."""
    cut = text.rstrip("\r").rfind("\r")
    return text[cut + 1:] if cut >= 0 else text


class _Held:
    """The unfinished line of one task on one stream: ``text`` came since it was last handed
    out; ``shown`` is the line as handed out apart so far (folded), None until it was."""

    __slots__ = ("tag", "stream", "text", "since", "head", "shown", "id")

    def __init__(self, tag, stream, text, since, head):
        self.tag, self.stream, self.text, self.since, self.head = tag, stream, text, since, head
        self.shown = None
        self.id = None

    def show(self, ended=False):
        """The line's next state, with what came since the last one."""
        first = self.shown is None
        if first:
            self.id = "treadle-line-{}-{}".format(os.getpid(), next(_line_ids))
        self.shown = _fold((self.shown or "") + self.text)
        self.text = ""
        return OpenLine(self.id, self.stream, self.head + self.shown.rstrip("\r"), first, ended)


class OutputLines:
    """Assembles items into marked lines. Each item may carry a ``tag`` (where its lines go:
    a cell), kept with the unfinished line it leaves; ``source`` keeps apart the tasks of
    different connections, whose ids may be equal."""

    def __init__(self):
        self._partial = {}   # (source, task, stream) -> _Held

    def add(self, items, source=None, tag_of=None, now=None):
        """[(tag, stream, text)] of the complete lines in ``items``, in order; ``stream`` is
        "stdout" or "stderr", or "line" for a line handed out apart (``text``: an OpenLine);
        ``tag_of(task)`` gives each item's tag. An ``end`` item completes the task's
        unfinished lines."""
        out = []
        now = time.monotonic() if now is None else now
        for task, label, stream, data in items:
            tag = tag_of(task) if tag_of is not None else None
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
            head = prefix(task, label)
            if stream == "end":
                out.extend(self._complete(source, task))
                continue
            if stream.startswith("log:"):
                level = stream[4:].upper()
                out.append((tag, "stderr", "".join("{}{}: {}\n".format(head, level, line)
                                                   for line in text.splitlines())))
                continue
            name = "stderr" if stream == "stderr" else "stdout"
            key = (source, task, name)
            held = self._partial.get(key)
            lines = ((held.text if held is not None else "") + text).split("\n")
            if held is not None and held.shown is not None:
                if len(lines) == 1:   # more of the line shown apart: its next state, when flushed
                    if not held.text:
                        held.since = now
                    held.text = lines[0]
                    continue
                held.text = lines.pop(0)   # its end: its last state, then the lines after it
                out.append((held.tag, "line", held.show(ended=True)))
                del self._partial[key]
                held = None
            done = "".join(_marked(head, line) for line in lines[:-1])
            if done:
                out.append((tag, name, done))
            if not lines[-1]:
                self._partial.pop(key, None)
            elif held is not None and len(lines) == 1:
                held.text = lines[0]
            else:
                self._partial[key] = _Held(tag, name, lines[-1], now, head)
        return out

    def flush(self, older_than=None, now=None, end_lines=False):
        """[(tag, stream, text)] of the unfinished lines held at least ``older_than`` seconds
        (all of them by default), as in ``add``: each line's next state, apart ("line"). With
        ``end_lines`` every line ends: one never handed out goes as stream text, ended with a
        newline; one handed out apart, as its last state."""
        now = time.monotonic() if now is None else now
        out = []
        for key, held in list(self._partial.items()):
            if end_lines:
                del self._partial[key]
                if held.shown is not None:
                    out.append((held.tag, "line", held.show(ended=True)))
                elif held.text:
                    out.append((held.tag, key[2], _marked(held.head, held.text)))
            elif held.text and (older_than is None or now - held.since >= older_than):
                out.append((held.tag, "line", held.show()))
        return out

    def _complete(self, source, task):
        out = []
        for name in ("stdout", "stderr"):
            held = self._partial.pop((source, task, name), None)
            if held is None:
                continue
            if held.shown is not None:
                out.append((held.tag, "line", held.show(ended=True)))
            elif held.text:
                out.append((held.tag, name, _marked(held.head, held.text)))
        return out


class TaskOutputPrinter:
    """An output handler writing marked lines to sys.stdout / sys.stderr (or the given streams)."""

    def __init__(self, stdout=None, stderr=None):
        self._stdout = stdout
        self._stderr = stderr
        self._lines = OutputLines()

    def __call__(self, items):
        for _, stream, text in self._lines.add(items):
            self._write(stream, text)

    def flush_partial(self):
        for _, stream, text in self._lines.flush(end_lines=True):
            self._write(stream, text)

    def _write(self, stream, text):
        if stream == "line":   # never flushed before its end here: only a last state comes
            stream, text = text.stream, text.text + "\n"
        target = (self._stderr or sys.stderr) if stream == "stderr" else (self._stdout or sys.stdout)
        target.write(text)
        target.flush()
