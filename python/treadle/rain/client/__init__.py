"""Rain's client API (``rain.client``) on treadle: change ``from rain.client import ...`` to
``from treadle.rain.client import ...``. See docs/rain.md for what is there so far."""

from ..common import DataInstance, LabeledList, RainException, RainWarning, SessionException, TaskException
from . import tasks
from .client import Client
from .constants import blob, directory, pickled
from .data_object import DataObject
from .execute import Execute, Program
from .input import Input, InputDir
from .output import Output, OutputDir
from .remote import Remote, remote
from .session import Session
from .task import Task

__all__ = ["Client", "DataInstance", "DataObject", "Execute", "Input", "InputDir", "LabeledList", "Output", "OutputDir",
           "Program", "RainException", "RainWarning", "Remote", "Session", "SessionException", "Task", "TaskException",
           "blob", "directory", "pickled", "remote", "tasks"]
