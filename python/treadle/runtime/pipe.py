"""Framing of the messages between a worker and its Python executors (over pipes).

A message is: u32 header length, the header (JSON), u32 blob count, then per blob a u64
length and its bytes. Blobs carry object contents, so they are never JSON-escaped.
"""

import json
import struct

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


def write_message(stream, header, blobs=()):
    head = json.dumps(header, separators=(",", ":")).encode()
    parts = [_U32.pack(len(head)), head, _U32.pack(len(blobs))]
    for blob in blobs:
        parts.append(_U64.pack(len(blob)))
        parts.append(blob)
    if sum(len(p) for p in parts) < (1 << 20):
        stream.write(b"".join(parts))
    else:
        for p in parts:  # large blobs go out as they are, not joined into a second copy
            stream.write(p)
    stream.flush()


def _read_exact(stream, n):
    data = stream.read(n)
    if data is None or len(data) != n:
        raise EOFError("the pipe closed")
    return data


def read_message(stream):
    (size,) = _U32.unpack(_read_exact(stream, 4))
    header = json.loads(_read_exact(stream, size))
    (count,) = _U32.unpack(_read_exact(stream, 4))
    blobs = []
    for _ in range(count):
        (n,) = _U64.unpack(_read_exact(stream, 8))
        blobs.append(_read_exact(stream, n))
    return header, blobs
