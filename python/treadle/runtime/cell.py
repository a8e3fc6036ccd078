"""The body of a ``%%treadle task`` cell, run as a task on a worker (the magic sends this
function, pickled by reference: executors import it from here, never the magics)."""

import ast
import linecache
import sys

FILENAME = "<treadle cell>"


def run_cell(code, pushed, pull, retries=0, shape="both"):
    """Runs a notebook cell's code as a task (on a worker): in a fresh namespace holding the
    pushed variables, up to ``retries`` more times if it raises. Returns (pulled variables,
    value of the last expression) for ``shape="both"``; for a future the user holds, the pulled
    variables (a dict) if any were asked for, else the value."""
    linecache.cache[FILENAME] = (len(code), None, code.splitlines(True), FILENAME)
    tree = ast.parse(code, FILENAME)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    body = compile(tree, FILENAME, "exec")
    expr = compile(ast.Expression(last.value), FILENAME, "eval") if last is not None else None
    attempts = 1 + max(0, int(retries))
    for attempt in range(1, attempts + 1):
        ns = {"__name__": "__treadle_cell__"}
        ns.update(pushed)
        try:
            exec(body, ns)
            value = eval(expr, ns) if expr is not None else None
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
    if shape == "both":
        return pulled, value
    return pulled if pull else value
