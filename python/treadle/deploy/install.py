"""What deploy takes from the rest of treadle's install: where its programs are and the
engine's secret rules. (One module, so a move of those elsewhere changes one import.)"""

import os

from ..core import engine, paths

__all__ = ["default_secret_path", "ensure_default_secret", "program"]


def program(name):
    """The absolute path of a treadle program (``treadle-server``, ``treadle-worker``, or a
    path to an extended worker)."""
    if os.sep in name:
        return os.path.abspath(name)
    return paths.program(name)


def default_secret_path():
    """The per-user secret file, as every treadle program finds it."""
    return engine.default_secret_path()


def ensure_default_secret():
    """Creates the per-user secret file (0600) if it does not exist yet, as every treadle
    program does on first use. Call only when neither $TREADLE_SECRET nor
    $TREADLE_SECRET_FILE is set (the engine would read those instead)."""
    engine.load_secret()
