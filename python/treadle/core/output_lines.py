"""What tasks print, as whole lines marked with their task: ``[task 12 hello] text``.

Output arrives in pieces, (task, label, stream, bytes) items, and a line may be cut between
two of them: :class:`OutputLines` completes a line before it hands it out, so lines of
different tasks never mix, and gives back what waited too long for its end, or whose task
ended (an ``end`` item: the task's output is complete, sent after a line it did not end).
A carriage return (a progress bar rewriting its line) is followed by the mark again, so the
rewritten line still names its task. An unfinished line given back by the timed ``flush`` is
left open, not ended: what its task prints next continues it (a ``\r`` then rewrites it in
place, as a front-end folds a stream); only output of another task to the same place (tag and
stream) ends it first, so lines of different tasks never mix. Logs from
``ctx.log_*`` go to stderr with their level. Clients print with :class:`TaskOutputPrinter`;
the notebook's cell tracker assembles lines for the cells that submitted the tasks.
"""

import re
import sys
import time

# A carriage return followed by more of the line: the text after it overwrites the mark.
_REWRITE = re.compile(r"\r+(?=[^\r])")


def prefix(task, label):
    return "[task {}{}] ".format(task, " " + label if label else "")


def _marked(head, line, begun=False, end="\n"):
    """``line`` with its mark, and the mark again after each carriage return; ``begun``: the
    line's start (and mark) went out already."""
    return ("" if begun else head) + _REWRITE.sub(lambda m: m.group(0) + head, line) + end


class OutputLines:
    """Assembles items into marked lines. Each item may carry a ``tag`` (where its lines go:
    a cell), kept with the unfinished line it leaves; ``source`` keeps apart the tasks of
    different connections, whose ids may be equal."""

    def __init__(self):
        self._partial = {}   # (source, task, stream) -> [tag, text, since, prefix, begun]
        self._open = {}      # (id(tag), stream) -> the key whose line went out unended there

    def add(self, items, source=None, tag_of=None, now=None):
        """[(tag, stream, text)] of the complete lines in ``items``, in order; ``stream`` is
        "stdout" or "stderr"; ``tag_of(task)`` gives each item's tag. An ``end`` item completes
        the task's unfinished lines."""
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
                logged = "".join("{}{}: {}\n".format(head, level, line) for line in text.splitlines())
                out.append(self._emitted(None, tag, "stderr", logged))
                continue
            name = "stderr" if stream == "stderr" else "stdout"
            key = (source, task, name)
            held = self._partial.pop(key, None)
            begun = held is not None and held[4]
            if held is not None:
                text = held[1] + text
            lines = text.split("\n")
            if lines[-1]:
                since = held[2] if held is not None and held[1] else now
                self._partial[key] = [tag, lines[-1], since, head, begun and len(lines) == 1]
            elif begun and len(lines) == 1:
                self._partial[key] = held   # nothing new: the open line stays as it was
            done = "".join(_marked(head, line, begun and i == 0) for i, line in enumerate(lines[:-1]))
            if done:
                out.append(self._emitted(key, tag, name, done, ends=True))
        return out

    def flush(self, older_than=None, now=None, end_lines=False):
        """[(tag, stream, text)] of the unfinished lines held at least ``older_than`` seconds
        (all of them by default). They stay open (their task's next output continues them),
        unless ``end_lines``: then they end with a newline."""
        now = time.monotonic() if now is None else now
        out = []
        for key, held in list(self._partial.items()):
            tag, text, since, head, begun = held
            if not text or (older_than is not None and now - since < older_than):
                continue
            if end_lines:
                del self._partial[key]
                out.append(self._emitted(key, tag, key[2], _marked(head, text, begun), ends=True))
            else:
                held[1], held[4] = "", True
                out.append(self._emitted(key, tag, key[2], _marked(head, text, begun, end="")))
        return out

    def _complete(self, source, task):
        out = []
        for name in ("stdout", "stderr"):
            key = (source, task, name)
            held = self._partial.pop(key, None)
            if held is not None and (held[1] or held[4]):   # text to end, or an open line
                out.append(self._emitted(key, held[0], name, _marked(held[3], held[1], held[4]), ends=True))
        return out

    def _emitted(self, key, tag, name, text, ends=False):
        """(tag, name, text) for ``text`` of ``key`` (None: not a task's line), ending first the
        line another key left open there; records whether this one leaves its line open."""
        place = (id(tag), name)
        owner = self._open.pop(place, None)
        if owner is not None and owner != key:
            text = "\n" + text
            held = self._partial.get(owner)
            if held is not None:
                held[4] = False   # its next output starts a new line, with its mark
        if key is not None and not ends:
            self._open[place] = key
        return (tag, name, text)


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
        target = (self._stderr or sys.stderr) if stream == "stderr" else (self._stdout or sys.stdout)
        target.write(text)
        target.flush()
