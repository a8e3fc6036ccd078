"""Rain's content types: which names are valid, the sub-type rule between a spec and an info,
and how a Python value becomes an object's bytes and back.

Valid: '' (unspecified), pickle, cloudpickle, json, cbor, arrow, text, text-ENCODING, dir,
protobuf, and the families mime/..., user/..., protobuf/... (Rain 0.4's list). mime/... and
user/... are opaque: their bytes pass through, ``load()`` refuses them.
"""

import json
import pickle

from ...core.pickling import dumps
from .errors import RainException

_NAMES = frozenset(("", "pickle", "cloudpickle", "json", "cbor", "arrow", "text", "dir", "protobuf"))
_FAMILIES = ("text-", "mime/", "user/", "protobuf/")


def check_content_type(name):
    """Raises ValueError (as Rain) for a name that is not a content type; None counts as ''."""
    if name is None or name in _NAMES:
        return True
    if isinstance(name, str) and name.startswith(_FAMILIES) and name not in _FAMILIES:
        return True
    raise ValueError("content type {!r} is not recognized (known: '', {}; or text-ENCODING, mime/..., "
                     "user/..., protobuf/...)".format(name, ", ".join(sorted(_NAMES - {""}))))


def is_subtype(sub, base):
    """Rain's rule: any type is a sub-type of the unspecified one ('' or None); else equal, or
    ``base`` followed by '-' or '/' ("text-latin1" of "text", "mime/text/csv" of "mime/text"),
    and pickle is a sub-type of cloudpickle (cloudpickle reads pickle). Rain tested a bare
    prefix, which made "user/ab" a sub-type of "user/a": the separator is required here."""
    if not base:
        return True
    sub = sub or ""
    if sub == base or (sub == "pickle" and base == "cloudpickle"):
        return True
    return sub.startswith(base) and sub[len(base):len(base) + 1] in ("-", "/")


def merge_content_types(a, b):
    """The more specific of two content types when one is a sub-type of the other (an input's
    object type and what ``Input(content_type=...)`` asks); RainException otherwise."""
    if is_subtype(a, b):
        return a or ""
    if is_subtype(b, a):
        return b or ""
    raise RainException("incompatible content types: {!r} and {!r}".format(a or "", b or ""))


def encode_value(value, content_type):
    """The bytes of ``value`` in ``content_type`` (pickle, cloudpickle, json, cbor, arrow, text,
    text-ENC)."""
    check_content_type(content_type)
    if content_type in ("pickle", "cloudpickle"):
        return dumps(value) if content_type == "cloudpickle" else pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    if content_type == "json":
        return json.dumps(value).encode()
    if content_type == "cbor":
        return _cbor().dumps(value)
    if content_type == "arrow":
        return _arrow_dumps(value)
    if content_type == "text" or (content_type or "").startswith("text-"):
        if not isinstance(value, str):
            raise RainException("content type {!r} encodes a str, not a {}".format(content_type, type(value).__name__))
        return value.encode(_encoding(content_type))
    raise RainException("cannot encode a {} as content type {!r}: give bytes".format(type(value).__name__,
                                                                                   content_type or ""))


def decode_value(data, content_type):
    """The Python value of ``data`` (bytes) in ``content_type``."""
    check_content_type(content_type)
    if content_type in ("pickle", "cloudpickle"):
        return pickle.loads(data)
    if content_type == "json":
        return json.loads(data.decode())
    if content_type == "cbor":
        return _cbor().loads(data)
    if content_type == "arrow":
        return _arrow_loads(data)
    if content_type == "text" or (content_type or "").startswith("text-"):
        return data.decode(_encoding(content_type))
    raise RainException("an object of content type {!r} cannot be loaded: use get_bytes()".format(content_type or ""))


def _encoding(content_type):
    return content_type[5:] if content_type.startswith("text-") else "utf-8"


def _cbor():
    try:
        import cbor2  # optional: python3-cbor2 (only the cbor content type needs it)
    except ImportError:
        raise RainException("content type 'cbor' needs the module cbor2 (Debian: python3-cbor2)") from None
    return cbor2


def _pyarrow():
    try:
        import pyarrow  # optional, and not packaged by Debian 12
    except ImportError:
        raise RainException("content type 'arrow' needs the module pyarrow, which is not installed "
                            "(Debian 12 does not package it): use another content type, or install pyarrow") from None
    return pyarrow


def _arrow_dumps(value):
    # Rain used pyarrow.serialize, which pyarrow removed: an IPC stream of a table or record
    # batch is what arrow means now.
    pa = _pyarrow()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, value.schema) as writer:
        writer.write(value)
    return sink.getvalue().to_pybytes()


def _arrow_loads(data):
    pa = _pyarrow()
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()
