"""Code strings run as tasks: the body of a ``%%treadle task`` cell, and the code of IPython's
tasks and ``execute`` (runtime.engine). The magic sends ``run_cell``, pickled by reference:
executors import it from here, never the magics."""

import ast
import sys

from ..core.pickling import dumps, is_plain
from . import code_strings


def compile_cell(code, filename=None):
    """(body, last expression or None) of ``code``, compiled under its own pseudo-file name
    (runtime.code_strings), whose lines are kept for tracebacks."""
    filename = code_strings.remember(filename or code_strings.filename(code_strings.CELL, code), code)
    tree = ast.parse(code, filename)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    body = compile(tree, filename, "exec")
    expr = compile(ast.Expression(last.value), filename, "eval") if last is not None else None
    return body, expr


def exec_cell(compiled, ns):
    """Runs compiled code in the namespace ``ns``; returns the value of its last expression."""
    body, expr = compiled
    exec(body, ns)
    return eval(expr, ns) if expr is not None else None


def run_cell(code, pushed, pull, retries=0, shape="both"):
    """Runs a notebook cell's code as a task (on a worker): in a fresh namespace holding the
    pushed variables, up to ``retries`` more times if it raises. Returns (pulled variables,
    value of the last expression) for ``shape="both"``; for a future the user holds, the pulled
    variables (a dict) if any were asked for, else the value."""
    compiled = compile_cell(code)
    attempts = 1 + max(0, int(retries))
    for attempt in range(1, attempts + 1):
        ns = {"__name__": "__treadle_cell__"}
        ns.update(pushed)
        try:
            value = exec_cell(compiled, ns)
            break
        except Exception as e:
            if attempt == attempts:
                raise
            print("attempt {} of {} failed ({}: {}); running the cell again".format(
                attempt, attempts, type(e).__name__, e), file=sys.stderr, flush=True)
    missing = [n for n in pull if n not in ns]
    if missing:
        raise NameError("--pull: the cell did not define {}".format(", ".join(missing)))
    pulled = {n: ns[n] for n in pull}
    _check_picklable(pulled)
    if shape == "both":
        return pulled, value
    return pulled if pull else value


def _check_picklable(pulled):
    """Refuses a pulled value that cannot be pickled by its name, as IPython's Task does
    (runtime.engine), not as "the task's result 'tuple'" from the executor's pickling of the
    whole. Plain values always pickle; others are pickled once more here."""
    if is_plain(pulled):
        return
    for name, value in pulled.items():
        try:
            dumps(value)
        except Exception as error:
            kind = type(value)
            kind = kind.__qualname__ if kind.__module__ == "builtins" else "{}.{}".format(kind.__module__,
                                                                                        kind.__qualname__)
            raise TypeError("pull[{!r}] (a {}) cannot be pickled ({}); pull only values that pickle".format(
                name, kind, error)) from None
