"""The Python package keeps its layers (docs/architecture.md, "The Python package"): read from
the sources (python/treadle and magics/, installed as treadle.magics) with ast, without
importing anything, it fails on

1. an import cycle between modules;
2. an import that goes up a layer, or between two APIs (none is built on another);
3. access to another module's private name (``x._name`` where the module does not define
   ``_name`` itself and x is not self or cls; dunders are fine; a line saying ``private-ok``
   with a reason is allowed: another library's private hook);
4. a file over MAX_LINES lines;
5. a function-local import of a treadle module or IPython without a comment saying why
   (local imports that only dodged an import cycle are gone).
"""

import ast
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SOURCES = {"treadle": os.path.join(ROOT, "python", "treadle"), "treadle.magics": os.path.join(ROOT, "magics")}
MAX_LINES = 600

# Bottom first: a module may import modules of its own layer and of the layers below.
LAYERS = [
    ("core", ["treadle._engine", "treadle._build_config", "treadle.core"]),
    ("runtime", ["treadle.runtime"]),
    ("processes and traces", ["treadle.cluster", "treadle.remote", "treadle.trace", "treadle.report", "treadle.deploy"]),
    ("APIs", ["treadle.api", "treadle.future", "treadle.refused_calls", "treadle.buffered_map", "treadle.loom", "treadle.rain", "treadle.ipython", "treadle.scoop"]),
    ("widgets", ["treadle.widgets"]),
    ("notebook", ["treadle.notebook"]),
    ("magics", ["treadle.magics"]),
    ("entry points", ["treadle", "treadle.executor", "treadle.kernel_support"]),
]
# APIs side by side: none imports another.
SIBLINGS = ["treadle.api", "treadle.loom", "treadle.rain", "treadle.ipython", "treadle.scoop"]
NATIVE_API_PARTS = {"treadle.future": "treadle.api", "treadle.refused_calls": "treadle.api",
                    "treadle.buffered_map": "treadle.api"}   # modules of the native API beside api.py
PRIVATE_MODULES = {"treadle._engine", "treadle._build_config"}   # compiled / written by CMake


def modules():
    """{module name: (path, ast)} of every module of the package."""
    found = {}
    for package, folder in SOURCES.items():
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for filename in filenames:
                if not filename.endswith(".py"):
                    continue
                path = os.path.join(dirpath, filename)
                parts = os.path.relpath(path, folder)[:-3].split(os.sep)
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                name = ".".join([package] + parts)
                with open(path, encoding="utf-8") as f:
                    found[name] = (path, ast.parse(f.read(), path))
    return found


def is_package(name, found):
    path = found[name][0]
    return os.path.basename(path) == "__init__.py"


def resolve(name, node, found):
    """The treadle modules an import statement of module ``name`` names."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.split(".")[0] == "treadle"]
    base = name if is_package(name, found) else name.rsplit(".", 1)[0]
    if node.level:
        for _ in range(node.level - 1):
            base = base.rsplit(".", 1)[0]
        target = base + ("." + node.module if node.module else "")
    else:
        target = node.module or ""
    if target.split(".")[0] != "treadle":
        return []
    out = []
    for alias in node.names:
        sub = target + "." + alias.name
        out.append(sub if sub in found or sub in PRIVATE_MODULES else target)
    return out


def imports(found):
    """{module: [(imported module, line, local)]}: every import of a treadle module."""
    edges = {}
    for name, (_, tree) in found.items():
        local_lines = {n.lineno for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                       for n in ast.walk(f) if isinstance(n, (ast.Import, ast.ImportFrom))}
        edges[name] = [(target, node.lineno, node.lineno in local_lines)
                       for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                       for target in resolve(name, node, found) if target != name]
    return edges


def layer_of(name):
    best, level = None, None
    for index, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and (best is None or len(prefix) > len(best)):
                best, level = prefix, index
    return level


def sibling_of(name):
    if name in NATIVE_API_PARTS:
        return NATIVE_API_PARTS[name]
    for prefix in SIBLINGS:
        if name == prefix or name.startswith(prefix + "."):
            return prefix
    return None


def test_every_module_has_a_layer():
    assert [n for n in modules() if layer_of(n) is None] == []


def test_no_import_cycles():
    found = modules()
    graph = {n: sorted({t for t, _, _ in e if t in found}) for n, e in imports(found).items()}
    cycles, state, stack = [], {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_imports_go_down_only():
    found = modules()
    bad = []
    for name, edges in imports(found).items():
        for target, line, _ in edges:
            if name != "treadle" and target == "treadle":
                bad.append("{}:{} imports the package's entry point".format(name, line))
                continue
            if layer_of(target) > layer_of(name):
                bad.append("{}:{} imports {} ({} above {})".format(name, line, target, LAYERS[layer_of(target)][0],
                                                                    LAYERS[layer_of(name)][0]))
            own, other = sibling_of(name), sibling_of(target)
            if own and other and own != other:
                bad.append("{}:{} imports {}: the APIs are side by side".format(name, line, target))
    assert bad == [], "\n".join(bad)


def owned_names(tree):
    """The private names a module defines: its own definitions, the attributes it assigns, its slots."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            names.add(node.attr)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__slots__" for t in node.targets):
            names.update(e.value for e in ast.walk(node.value) if isinstance(e, ast.Constant)
                         and isinstance(e.value, str))
    return {n for n in names if n.startswith("_")}


def is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_access_to_other_modules_private_names():
    found = modules()
    bad = []
    for name, (path, tree) in found.items():
        lines = open(path, encoding="utf-8").read().splitlines()
        own = owned_names(tree)

        def allowed(node):
            return "private-ok" in lines[node.lineno - 1]
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and is_private(node.attr) and node.attr not in own:
                if not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")) and not allowed(node):
                    bad.append("{}:{}: {}".format(name, node.lineno, ast.unparse(node)))
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    targets = resolve(name, node, found) if node.module is None or node.level else []
                    if is_private(alias.name) and not any(t.endswith("." + alias.name) for t in targets) \
                            and not allowed(node):
                        bad.append("{}:{}: imports {}".format(name, node.lineno, alias.name))
    assert bad == [], "private names of other modules:\n" + "\n".join(bad)


def test_files_stay_small():
    big = []
    for name, (path, _) in modules().items():
        with open(path, encoding="utf-8") as f:
            count = sum(1 for _ in f)
        if count > MAX_LINES:
            big.append("{} has {} lines".format(name, count))
    assert big == [], "\n".join(big)


def test_local_imports_say_why():
    bad = []
    for name, (path, tree) in modules().items():
        lines = open(path, encoding="utf-8").read().splitlines()
        for func in ast.walk(tree):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(func):
                if isinstance(node, ast.Import):
                    roots = [a.name.split(".")[0] for a in node.names]
                elif isinstance(node, ast.ImportFrom):
                    roots = ["treadle" if node.level else (node.module or "").split(".")[0]]
                else:
                    continue
                if any(r in ("treadle", "IPython") for r in roots) and "#" not in lines[node.lineno - 1]:
                    bad.append("{}:{}: {}".format(name, node.lineno, lines[node.lineno - 1].strip()))
    assert bad == [], "function-local imports without a reason:\n" + "\n".join(bad)
