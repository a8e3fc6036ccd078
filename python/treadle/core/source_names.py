"""How a task's failure text names the files of its frames: as the user knows them. In a
notebook kernel a function defined in a cell was compiled from a file the kernel made
(/tmp/xpython_*/*.py, /tmp/ipykernel_*/*.py) that the worker never had: the kernel installs a
namer (treadle.notebook.cell_tracebacks) that writes such a frame as its tracebacks do,
``Cell In [3], line 2``, with the cell's line under it. Without one, the text stays as it is."""

_namer = [None]   # (text, with_lines) -> text


def set_source_namer(namer):
    """``namer(text, with_lines)`` gives a failure's text with its frames' files named as the
    user knows them, and with ``with_lines`` each such frame's source line under it (a text
    read as a traceback: Rain's TaskException); None: as they are."""
    _namer[0] = namer


def sources_named(text, with_lines=False):
    """``text`` as the installed namer names it (as it is without one, or if the namer fails:
    a failure is shown as it is rather than not at all)."""
    namer = _namer[0]
    if namer is None or not text:
        return text
    try:
        return namer(text, with_lines)
    except Exception:
        return text
