"""Rain's client API (``rain.client``) on treadle: change ``from rain.client import ...`` to
``from treadle.rain.client import ...``. See docs/rain.md for what is there so far."""

from ..common import DataInstance, LabeledList, RainException, RainWarning, SessionException, TaskException
from . import tasks
from .client import Client
from .constants import blob, pickled
from .data_object import DataObject
from .input import Input
from .output import Output
from .remote import Remote, remote
from .session import Session
from .task import Task

__all__ = ["Client", "DataInstance", "DataObject", "Input", "LabeledList", "Output", "RainException", "RainWarning",
           "Remote", "Session", "SessionException", "Task", "TaskException", "blob", "pickled", "remote", "tasks"]
