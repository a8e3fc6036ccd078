"""The ``%treadle`` magics: the same in the treadle kernel and, after ``%load_ext treadle``, in
any IPython kernel. The package's top layer: it uses the notebook layer, the widgets and the
APIs, and nothing imports it but the kernel's entry points.

One file per group of commands, each command declared once (``declare.py``): ``cluster``
(workers, status, stop), ``options`` (config), ``views`` (graph, trace, why), ``submit``
(``%%treadle submit``), ``task`` (``%%treadle task``), ``px`` (``%%treadle px``: a cell on every
engine); ``completion`` completes them all.
"""

from IPython.core.error import UsageError

from ..notebook import kernel
from . import cluster, completion, declare, options, px, submit, task, views  # noqa: F401 (they declare the commands)

HEADER = """treadle: run task graphs on workers from this notebook. A bare %treadle shows the status.

Interrupting a cell cancels the tasks it submitted that still run (cancel_on_interrupt).
What tasks print appears in the cell that submitted them, each line marked with its task,
also after the cell finished. In Python: ``import treadle``, then ``@treadle.task``
functions return futures; ``treadle.default_client()`` is connected to this kernel's server.
``%treadle CMD --help`` (or -h) shows one command's help.
"""


def load_ipython_extension(ipython):
    """``%load_ext treadle``: the magics and a treadle server for this kernel (in this process,
    unless the kernel is the treadle kernel, which embeds one)."""
    if kernel.session() is None:
        kernel.install_in_ipython(ipython)
    register(ipython)


def unload_ipython_extension(ipython):
    pass  # the server and workers stay until the kernel ends


def register(ipython):
    """Registers %treadle on an IPython shell (idempotent)."""
    ipython.register_magic_function(treadle_magic, "line_cell", "treadle")
    completion.install(ipython)


def treadle_magic(line, cell=None):
    __tracebackhide__ = True  # a dispatcher: the error of what it ran is what matters
    name, rest = (line.split(None, 1) + ["", ""])[:2]
    command = declare.COMMANDS.get(name)
    if command is not None and command.takes_expressions:
        argv = declare.split_keeping_expressions(command, rest)   # %treadle why d['k']: the quotes stay
    else:
        words = declare.split(line)
        if not words and cell is None:
            words = ["status"]  # bare %treadle: what the cluster is doing, as %treadle status
        if not words:
            raise UsageError("%%treadle needs a cell command; " + declare.usage())
        name, argv = words[0], words[1:]
        command = declare.COMMANDS.get(name)
    if name in ("help", "-h", "--help"):
        print(treadle_magic.__doc__)   # what %treadle? shows
        return None
    if command is None:
        raise UsageError("unknown sub-command {!r}{}; {}".format(name, declare.did_you_mean(name, declare.COMMANDS),
                                                                declare.usage()))
    try:
        args, wrong = command.parse(argv), None
    except declare.HelpAsked:
        print(command.help())   # %treadle CMD --help: that command's part of %treadle?; a cell is not run
        return None
    except UsageError as error:
        args, wrong = None, error   # said after a line/cell mix-up, which says more
    if command.cell and cell is None:
        raise UsageError("{} is a cell magic: put {} on the first line of a cell".format(name, command.magic))
    if not command.cell and cell is not None:
        raise UsageError("{} is a line magic: {}".format(name, command.usage()[len("usage: "):]))
    if wrong is not None:
        raise wrong
    return command.fn(args, cell) if command.cell else command.fn(args)


treadle_magic.__doc__ = HEADER + "\n" + "\n".join(c.help() for c in declare.COMMANDS.values())
