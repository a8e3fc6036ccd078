"""What xtreadle's C++ calls (kernel/treadle_interpreter.cpp): treadle in the kernel's shell,
the %treadle magics registered, and shutting it all down. The work is the notebook layer's
(treadle.notebook.kernel) and the magics' (treadle.magics)."""

from . import magics
from .notebook import kernel


def install_in_xtreadle(shell):
    kernel.install_in_xtreadle(shell)
    magics.register(shell)


def shutdown():
    kernel.shutdown()
