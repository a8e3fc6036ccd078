"""Shows what tasks print, each line marked with its task, as it arrives."""

import sys


class TaskOutputPrinter:
    """Writes (task, label, stream, bytes) items to sys.stdout / sys.stderr.

    A line is printed as ``[task 12 hello] text``; a line cut between two items is completed
    before it is printed, so lines of different tasks never mix. Logs from ``ctx.log_*`` go to
    stderr with their level.
    """

    def __init__(self, stdout=None, stderr=None):
        self._stdout = stdout
        self._stderr = stderr
        self._partial = {}  # (task, stream) -> unfinished line

    def __call__(self, items):
        for task, label, stream, data in items:
            text = data.decode("utf-8", "replace") if isinstance(data, bytes) else str(data)
            prefix = "[task {}{}] ".format(task, " " + label if label else "")
            if stream.startswith("log:"):
                level = stream[4:].upper()
                self._write("stderr", "".join("{}{}: {}\n".format(prefix, level, line) for line in text.splitlines()))
                continue
            key = (task, stream)
            text = self._partial.pop(key, "") + text
            lines = text.split("\n")
            if lines[-1]:
                self._partial[key] = lines[-1]
            self._write(stream, "".join(prefix + line + "\n" for line in lines[:-1]))

    def flush_partial(self):
        for (task, stream), rest in list(self._partial.items()):
            self._write(stream, "[task {}] {}\n".format(task, rest))
        self._partial.clear()

    def _write(self, stream, text):
        if not text:
            return
        target = (self._stderr or sys.stderr) if stream == "stderr" else (self._stdout or sys.stdout)
        target.write(text)
        target.flush()
