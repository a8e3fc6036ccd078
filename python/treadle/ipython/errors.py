"""The IPython layer's exceptions, under the names of IPython's ``IPython.kernel.error``: an
IPython user catches ``KernelError`` (its base there) or the specific one, and reads IPython's
names in a traceback, not the core's. Each is also a core ``LoomException``, which the other
APIs' code catches."""

import builtins

from ..core.errors import LoomException


class KernelError(LoomException):
    """Every error of this layer (IPython's base exception, of ``IPython.kernel.error``)."""


class ConnectionError(KernelError, builtins.ConnectionError):
    """No cluster to connect to: no default task address, or no server at the address given."""


class EngineLost(KernelError):
    """The engine a command was meant for is gone (its worker left the cluster)."""


class TaskTimeout(KernelError):
    """A command for one engine waited longer than $TREADLE_ENGINE_TIMEOUT for it (it stayed busy)."""


class TaskAborted(KernelError):
    """The failure of a task that ``abort`` stopped, or that the kernel cancelled (an interrupt of
    the cell that ran it, ``%treadle stop``)."""
