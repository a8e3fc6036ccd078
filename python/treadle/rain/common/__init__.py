"""What Rain's client and its Python tasks share (``rain.common``): data instances, content
types, attributes, labeled lists and the exceptions."""

from .attributes import ID, ObjectInfo, ObjectSpec, TaskInfo, TaskSpec, TaskSpecInput
from .content_types import check_content_type, decode_value, encode_value, is_subtype, merge_content_types
from .data_instance import DataInstance
from .errors import RainException, RainWarning, SessionException, TaskException
from .labeled_list import LabeledList

__all__ = ["DataInstance", "ID", "LabeledList", "ObjectInfo", "ObjectSpec", "RainException", "RainWarning",
           "SessionException", "TaskException", "TaskInfo", "TaskSpec", "TaskSpecInput", "check_content_type",
           "decode_value", "encode_value", "is_subtype", "merge_content_types"]
