"""Rain's content types: how a Python value becomes an object's bytes and back."""

import json
import pickle

from ...core.pickling import dumps
from .errors import RainException


def is_subtype(sub, base):
    """Rain's rule: any type is a sub-type of the unspecified one ('' or None); else equal, or
    ``base`` followed by ``/`` ("mime/..." of "mime")."""
    if not base:
        return True
    sub = sub or ""
    return sub == base or sub.startswith(base + "/")


def encode_value(value, content_type):
    """The bytes of ``value`` in ``content_type`` (pickle, cloudpickle, json, cbor, text, text-ENC)."""
    if content_type in ("pickle", "cloudpickle"):
        return dumps(value) if content_type == "cloudpickle" else pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    if content_type == "json":
        return json.dumps(value).encode()
    if content_type == "cbor":
        return _cbor().dumps(value)
    if content_type == "text" or (content_type or "").startswith("text-"):
        return str(value).encode(_encoding(content_type))
    raise RainException("cannot encode a {} as content type {!r}: give bytes".format(type(value).__name__,
                                                                                   content_type or ""))


def decode_value(data, content_type):
    """The Python value of ``data`` (bytes) in ``content_type``."""
    if content_type in ("pickle", "cloudpickle"):
        return pickle.loads(data)
    if content_type == "json":
        return json.loads(data.decode())
    if content_type == "cbor":
        return _cbor().loads(data)
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
