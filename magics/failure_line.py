"""A failing ``%%treadle submit`` cell shows the cell's line, then the task's frames, as a cell
that called ``.result()`` would (docs/kernel.md): the line is that of the assignment to the
name whose futures hold the failing task (``parts = [train(i) for i in range(6)]``), or of the
last expression when that is what was submitted. An interrupt of its wait shows the last line
that submitted (the cell waits for it all at its end, as an ordinary cell would wait on its
last results), and nothing of treadle's."""

import ast

from ..core import walk
from ..core.local_traceback import is_task_failure
from ..core.remote_exception import rebuilt_frame, task_traceback


def _assigned_lines(tree):
    """{name: line of its last assignment at the cell's top level}."""
    lines = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
        for target in targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name):
                    lines[name.id] = node.lineno
    return lines


def _task_id(leaf):
    handle = getattr(leaf, "handle", leaf)   # native and SCOOP futures hold a core TaskHandle
    return getattr(handle, "task_id", None)


class AtItsLine:
    """``with AtItsLine(source, filename, graph):`` around the submission's wait: a task's
    failure leaving it gets the cell's line in front of the task's frames (re-raised by the with
    statement, which adds no entry of its own: core.local_traceback), an interrupt the line
    only. ``graph``: {name: futures}; the submission puts its HyperLoom futures in place of the
    cell's tasks once it sent them."""

    def __init__(self, source, filename, graph, kinds, depth):
        self.source, self.filename, self.graph = source, filename, graph
        self.kinds, self.depth = kinds, depth

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if error is None or self.filename is None:
            return False
        interrupted = isinstance(error, KeyboardInterrupt)
        if not interrupted and not is_task_failure(error):
            return False
        try:
            lineno = self._waiting_line() if interrupted else self._line_of(error)
            frames = None if interrupted else task_traceback(error)
            if lineno is not None:
                entry = rebuilt_frame(self.filename, lineno, "<module>", "__main__")
                if entry is not None:
                    entry.tb_next = frames
                    error.__traceback__ = entry
        except Exception:   # the failure shows all the same, without the line
            pass
        return False

    def _lines(self):
        """[(line, futures)] of the submitted names, in the cell's order."""
        tree = ast.parse(self.source)
        lines = _assigned_lines(tree)
        last = tree.body[-1].lineno if tree.body else None
        found = [(last if name is None else lines.get(name), value) for name, value in self.graph.items()]
        return sorted(((line, value) for line, value in found if line is not None), key=lambda found: found[0])

    def _line_of(self, error):
        ids = {getattr(error, "task_id", None), getattr(error, "origin_id", None)} - {None}
        for line, value in self._lines():
            if any(_task_id(leaf) in ids for leaf in walk.leaves(value, self.kinds, self.depth)):
                return line
        return None

    def _waiting_line(self):
        lines = self._lines()
        return lines[-1][0] if lines else None
