"""SCOOP's ``--prolog F``: a shell script sourced before each worker starts (``module load``, a
virtualenv's ``activate``, exported variables), so the workers and their tasks inherit what it
sets. Remote hosts source it in their ssh session (treadle.remote); local workers are started
through a small wrapper script made here."""

import os
import shlex
import stat

from ..core import paths


def checked(path):
    """The prolog's absolute path; a clear error for one that cannot be read."""
    full = os.path.abspath(path)
    if not os.path.isfile(full) or not os.access(full, os.R_OK):
        raise ValueError("the prolog {!r} is not a readable file".format(path))
    return full


def worker_wrapper(prolog, folder, program="treadle-worker"):
    """Writes ``folder/treadle-worker-with-prolog``: sources ``prolog`` (stdin closed: it must
    not read the worker's), then execs the worker with the same arguments. A failing prolog
    ends the wrapper with its status, so the worker never starts."""
    path = os.path.join(folder, "treadle-worker-with-prolog")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n. {} </dev/null || exit $?\nexec {} \"$@\"\n".format(
            shlex.quote(prolog), shlex.quote(paths.program(program))))
    os.chmod(path, stat.S_IRWXU)
    return path
