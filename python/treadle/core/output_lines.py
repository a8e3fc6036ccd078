"""What tasks print, as whole lines marked with their task: ``[task 12 hello] text``.

Output arrives in pieces, (task, label, stream, bytes) items, and a line may be cut between
two of them: :class:`OutputLines` completes a line before it hands it out, so lines of
different tasks never mix, and gives back what waited too long for its end, or whose task
ended (an ``end`` item: the task's output is complete, sent after a line it did not end).
A carriage return (a progress bar rewriting its line) is followed by the mark again, so the
rewritten line still names its task. Logs from
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


def _marked(head, line):
    return head + _REWRITE.sub(lambda m: m.group(0) + head, line) + "\n"


class OutputLines:
    """Assembles items into marked lines. Each item may carry a ``tag`` (where its lines go:
    a cell), kept with the unfinished line it leaves; ``source`` keeps apart the tasks of
    different connections, whose ids may be equal."""

    def __init__(self):
        self._partial = {}   # (source, task, stream) -> [tag, text, since, prefix]

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
                out.append((tag, "stderr", "".join("{}{}: {}\n".format(head, level, line) for line in text.splitlines())))
                continue
            name = "stderr" if stream == "stderr" else "stdout"
            key = (source, task, name)
            held = self._partial.pop(key, None)
            if held is not None:
                text = held[1] + text
            lines = text.split("\n")
            if lines[-1]:
                self._partial[key] = [tag, lines[-1], held[2] if held is not None else now, head]
            done = "".join(_marked(head, line) for line in lines[:-1])
            if done:
                out.append((tag, name, done))
        return out

    def flush(self, older_than=None, now=None):
        """[(tag, stream, text)] of the unfinished lines held at least ``older_than`` seconds
        (all of them by default), ended with a newline."""
        now = time.monotonic() if now is None else now
        out = []
        for key, (tag, text, since, head) in list(self._partial.items()):
            if older_than is None or now - since >= older_than:
                del self._partial[key]
                out.append((tag, key[2], _marked(head, text)))
        return out

    def _complete(self, source, task):
        out = []
        for name in ("stdout", "stderr"):
            held = self._partial.pop((source, task, name), None)
            if held is not None:
                out.append((held[0], name, _marked(held[3], held[1])))
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
        for _, stream, text in self._lines.flush():
            self._write(stream, text)

    def _write(self, stream, text):
        target = (self._stderr or sys.stderr) if stream == "stderr" else (self._stdout or sys.stdout)
        target.write(text)
        target.flush()
