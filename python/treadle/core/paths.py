"""Where treadle's programs are: next to the installed package, or on PATH."""

import os
import shutil

from .. import _build_config


def program(name):
    """Absolute path of a treadle executable (treadle-server, treadle-worker)."""
    override = os.environ.get("TREADLE_BIN_DIR")
    for folder in filter(None, [override, _build_config.BIN_DIR]):
        candidate = os.path.join(folder, name)
        if os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(
        "cannot find the program {!r}: build and install treadle (./run setup), "
        "or set TREADLE_BIN_DIR".format(name))
