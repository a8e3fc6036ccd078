"""The program ``python3 -m treadle.scoop`` runs: ``__main__`` in the root, and imported under
another name (``PROGRAM_MODULE``) by every executor that runs one of its functions, as SCOOP's
workers import it: its module-level globals (a large dataset) exist on the workers, and the
program's functions travel by name instead of by value."""

import ast
import functools
import importlib.util
import os
import sys
import threading
import types

from ..core import remote_exception
from ..runtime import task_clients

PROGRAM_MODULE = "__treadle_scoop_program__"
ENVIRONMENT = "TREADLE_SCOOP_PROGRAM"   # the program's absolute path, set by the launcher

_lock = threading.Lock()


def program_module(path):
    """The program imported under PROGRAM_MODULE (once per process)."""
    with _lock:
        module = sys.modules.get(PROGRAM_MODULE)
        if module is None:
            folder = os.path.dirname(path)
            if folder not in sys.path:
                sys.path.insert(0, folder)   # its sibling modules import as in the root
            spec = importlib.util.spec_from_file_location(PROGRAM_MODULE, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[PROGRAM_MODULE] = module
            remote_exception.show_as_main(PROGRAM_MODULE)   # FitError: ..., as python3 program.py says
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[PROGRAM_MODULE]
                raise
        return module


class _ProgramLoader:
    """Gives the import system the program as program_module imports it (once per process)."""

    def __init__(self, path):
        self.path = path

    def create_module(self, spec):
        return program_module(self.path)

    def exec_module(self, module):
        pass   # program_module ran it


class _ProgramFinder:
    """Finds ``PROGRAM_MODULE`` on a worker. The program's classes are pickled by reference to it
    wherever an executor imported the program (an object a program function made there, sent on
    to a nested future); an executor that has run only lambdas unpickles them by importing it."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        program = os.environ.get(ENVIRONMENT)
        if name != PROGRAM_MODULE or not program:
            return None
        return importlib.util.spec_from_loader(name, _ProgramLoader(program))


def importable_in_executors():
    """Makes ``PROGRAM_MODULE`` importable in this process if it is an executor of a launched
    program's worker (the root has alias_in_root instead: there the program is ``__main__``)."""
    if task_clients.in_executor() and os.environ.get(ENVIRONMENT) and _ProgramFinder not in sys.meta_path:
        sys.meta_path.append(_ProgramFinder)


class _ProgramInTheRoot(types.ModuleType):
    """``PROGRAM_MODULE`` in the launcher's process, where the program runs as ``__main__``: its
    names are ``__main__``'s. A worker pickles the program's classes (a task's own exception, a
    result's type) by reference to ``PROGRAM_MODULE``; unpickled here, they are the root's own
    classes, so ``except FitError`` catches the task's FitError as local code would."""

    def __getattr__(self, name):
        return getattr(sys.modules["__main__"], name)


def alias_in_root():
    """Registers ``PROGRAM_MODULE`` as the running ``__main__`` (the launcher, before the run);
    returns the function that removes it."""
    alias = sys.modules[PROGRAM_MODULE] = _ProgramInTheRoot(PROGRAM_MODULE)

    def remove():
        if sys.modules.get(PROGRAM_MODULE) is alias:
            del sys.modules[PROGRAM_MODULE]
    return remove


class ProgramFunction:
    """A function of the program, by name: called on a worker, it is the program's own."""

    __slots__ = ("path", "name")

    def __init__(self, path, name):
        self.path = path
        self.name = name

    def __call__(self, *args, **kwargs):
        return getattr(program_module(self.path), self.name)(*args, **kwargs)

    @property
    def __name__(self):
        return self.name


def report_uncaught(error, path):
    """Shows an exception the program did not catch as ``python3 program.py`` would: its
    traceback from the program's own first frame on, without the launcher's (runpy, launcher.py)
    above it, through ``sys.excepthook`` (so a hook the program set still applies)."""
    tb = error.__traceback__
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) != path:
        tb = tb.tb_next
    tb = tb if tb is not None else error.__traceback__   # not raised in the program: all of it
    sys.excepthook(type(error), error.with_traceback(tb), tb)


@functools.lru_cache(maxsize=4)
def top_level_functions(path):
    """The functions the program defines at its top level: those a worker's import has too (not
    those defined under ``if __name__ == '__main__':``)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    return frozenset(node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)))


def by_name(fn):
    """``fn`` as a ProgramFunction if it is a top-level function of the launched program, else
    ``fn`` itself (it travels by value)."""
    path = os.environ.get(ENVIRONMENT)
    module = getattr(fn, "__module__", None)
    if not path or module not in ("__main__", PROGRAM_MODULE):
        return fn
    name = getattr(fn, "__qualname__", "")
    home = sys.modules.get(module)
    if "." in name or home is None or getattr(home, "__file__", None) is None \
            or os.path.abspath(home.__file__) != path or getattr(home, name, None) is not fn \
            or name not in top_level_functions(path):
        return fn
    return ProgramFunction(path, name)
