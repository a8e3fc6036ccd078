"""``%%treadle px``: the cell runs on every engine (each Python executor of the workers), as
ipyparallel's ``%%px`` runs it on every engine; treadle.ipython's MultiEngineClient does it."""

import argparse

from IPython.core import magic_arguments
from IPython.core.error import UsageError

from ..core.local_traceback import is_task_failure
from ..ipython import client as ipython_client
from ..runtime import code_strings
from . import declare
from .cluster import session
from .declare import command, option

_engines = {"client": None}   # the MultiEngineClient of this kernel's server, made on first use


def targets(text):
    if text == "all":
        return "all"
    try:
        ids = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        ids = []
    if not ids or any(i < 0 for i in ids):
        raise argparse.ArgumentTypeError("takes 'all' or engine ids separated by commas, not {!r}".format(text))
    return ids


def engines():
    """The MultiEngineClient of this kernel's server (its workers start if none run)."""
    session()   # the kernel's server exists: its address is the default one
    mec = _engines["client"]
    if mec is None or mec.connection.closed or tuple(mec.address) != tuple(ipython_client.default_task_address):
        mec = _engines["client"] = ipython_client.MultiEngineClient(ipython_client.default_task_address)
    return mec


@command("px", cell=True)
@magic_arguments.magic_arguments("%treadle px")
@option("--targets", type=targets, default="all", metavar="0,1", help="the engines the cell runs on: ids "
        "separated by commas, or all (the default); treadle.ipython.client.MultiEngineClient().get_ids() lists them")
def px(args, cell):
    """%%treadle px runs the cell on every engine (each Python executor of the workers, whose
    namespace lives on between cells and tasks of treadle.ipython), or on the --targets engines;
    what each prints is marked with its engine ("engine 3"). The first failure is raised."""
    __tracebackhide__ = True   # IPython: the engines' frames and the cell's, not the magic's
    this = declare.COMMANDS["px"]
    if not cell.strip():
        raise this.fail("the cell is empty")
    # A syntax error shows here, not on every engine; named as the engines name this code.
    compile(cell, code_strings.remembered(code_strings.ENGINE, cell), "exec")
    mec = engines()
    try:
        mec.execute(cell, targets=args.targets)
    except ValueError as error:   # an engine id that does not exist (a task's own ValueError goes on)
        if is_task_failure(error):
            raise
        raise UsageError("{}; {}".format(error, this.usage())) from None
