"""A failing ``%%treadle submit`` cell shows the cell's line, then the task's frames, as a cell
that called ``.result()`` would (docs/kernel.md): the line is that of the assignment to the
name whose futures hold the failing task (``parts = [train(i) for i in range(6)]``), or of the
last expression when that is what was submitted."""

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
    statement, which adds no entry of its own: core.local_traceback)."""

    def __init__(self, source, filename, graph, kinds, depth):
        self.source, self.filename, self.graph = source, filename, graph
        self.kinds, self.depth = kinds, depth

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if error is None or not is_task_failure(error) or self.filename is None:
            return False
        try:
            lineno = self._line_of(error)
            frames = task_traceback(error)
            if lineno is not None:
                entry = rebuilt_frame(self.filename, lineno, "<module>", "__main__")
                if entry is not None:
                    entry.tb_next = frames
                    error.__traceback__ = entry
        except Exception:   # the failure shows all the same, without the line
            pass
        return False

    def _line_of(self, error):
        ids = {getattr(error, "task_id", None), getattr(error, "origin_id", None)} - {None}
        tree = ast.parse(self.source)
        lines = _assigned_lines(tree)
        for name, value in self.graph.items():
            if any(_task_id(leaf) in ids for leaf in walk.leaves(value, self.kinds, self.depth)):
                if name is None:   # the last expression was submitted
                    return tree.body[-1].lineno if tree.body else None
                return lines.get(name)
        return None
