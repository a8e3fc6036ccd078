"""Pseudo-file names of code strings run as tasks (a ``%%treadle task`` or ``%%treadle px``
cell, the code of an IPython task or ``execute``), and their lines in ``linecache``.

Each code string gets a name of its own, as IPython names its cells (``<ipython-input-N-hash>``):
``<treadle cell 1a2b3c4d>``, ``<treadle engine 1a2b3c4d>``, from a hash of the code. The same code
has the same name wherever it is made (the kernel's magic, the executor), so the lines a
traceback shows under that name are always that code's, never another cell's at the same line
number. The executor sends the whole source of such a file with a failure
(core.remote_exception), which the client puts in its own linecache under the same name."""

import hashlib
import linecache

CELL = "treadle cell"
ENGINE = "treadle engine"


def filename(kind, code):
    """``<kind hash>``: the pseudo-file name of ``code`` (kind: CELL or ENGINE)."""
    digest = hashlib.blake2b(code.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
    return "<{} {}>".format(kind, digest)


def remember(name, code):
    """Keeps ``code``'s lines in linecache under ``name``, for tracebacks, SyntaxError displays
    and debuggers (no mtime: linecache.checkcache leaves the entry alone)."""
    linecache.cache[name] = (len(code), None, code.splitlines(True), name)
    return name


def remembered(kind, code):
    """The pseudo-file name of ``code``, its lines kept in linecache."""
    return remember(filename(kind, code), code)
