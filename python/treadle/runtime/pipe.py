"""Framing of the messages between a worker and its Python executors (over pipes).

A message is: u32 header length, the header (JSON), u32 blob count, then per blob a u64
length and its bytes. Blobs carry object contents, so they are never JSON-escaped.
"""

import json
import os
import struct

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


def message_parts(header, blobs=()):
    """A message as byte strings to write in order: small ones joined, large blobs as they are
    (not copied into one buffer)."""
    head = json.dumps(header, separators=(",", ":")).encode()
    parts = [_U32.pack(len(head)), head, _U32.pack(len(blobs))]
    for blob in blobs:
        parts.append(_U64.pack(len(blob)))
        parts.append(blob)
    if sum(len(p) for p in parts) < (1 << 20):
        return [b"".join(parts)]
    return parts


def write_message(stream, header, blobs=(), flush=True):
    """Writes a message; with flush=False it may wait in the stream's buffer for the next one
    (replies of short tasks go out several to a write)."""
    write_parts = getattr(stream, "write_parts", None)
    if write_parts is not None:
        write_parts(message_parts(header, blobs), flush)
        return
    for part in message_parts(header, blobs):
        stream.write(part)
    if flush:
        stream.flush()


class MessageReader:
    """Reads messages from a pipe's file descriptor, as many as one read brings: the worker
    writes the tasks it queues on an executor together, and `has_message` tells whether the
    next one is already here (so the replies so far need not go out before it runs)."""

    _CHUNK = 1 << 16

    def __init__(self, fd):
        self._fd = fd
        self._buffer = bytearray()
        self._at = 0

    def _missing(self):
        """How many more bytes the next message needs at least (0: it is all in the buffer)."""
        b, at, end = self._buffer, self._at, len(self._buffer)
        if end - at < 4:
            return 4 - (end - at)
        (size,) = _U32.unpack_from(b, at)
        at += 4 + size
        if end - at < 4:
            return at + 4 - end
        (count,) = _U32.unpack_from(b, at)
        at += 4
        for _ in range(count):
            if end - at < 8:
                return at + 8 - end
            (n,) = _U64.unpack_from(b, at)
            at += 8 + n
        return max(0, at - end)

    def has_message(self):
        """Whether a whole message is already read (no system call)."""
        return self._missing() == 0

    def read_message(self):
        """The next message: as many bytes as one read brings (several messages when the worker
        wrote them together), then decoded in place."""
        missing = self._missing()
        if missing:
            if self._at:
                del self._buffer[:self._at]
                self._at = 0
            while missing:
                chunk = os.read(self._fd, max(self._CHUNK, min(missing, 1 << 20)))
                if not chunk:
                    raise EOFError("the pipe closed")
                self._buffer += chunk
                missing = self._missing()
        b, at = self._buffer, self._at
        with memoryview(b) as view:
            (size,) = _U32.unpack_from(b, at)
            header = json.loads(bytes(view[at + 4:at + 4 + size]))
            at += 4 + size
            (count,) = _U32.unpack_from(b, at)
            at += 4
            blobs = []
            for _ in range(count):
                (n,) = _U64.unpack_from(b, at)
                blobs.append(bytes(view[at + 8:at + 8 + n]))
                at += 8 + n
        self._at = at
        if at == len(b):
            b.clear()
            self._at = 0
        return header, blobs
