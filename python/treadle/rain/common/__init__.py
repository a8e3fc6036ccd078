"""What Rain's client and its Python tasks share (``rain.common``): data instances, content
types, labeled lists and the exceptions."""

from .content_types import decode_value, encode_value, is_subtype
from .data_instance import DataInstance
from .errors import RainException, RainWarning, TaskException
from .labeled_list import LabeledList

__all__ = ["DataInstance", "LabeledList", "RainException", "RainWarning", "TaskException", "decode_value",
           "encode_value", "is_subtype"]
