"""Framing of the messages between a worker and its Python executors (over pipes).

A message is: u32 header length, the header (JSON), u32 blob count, then per blob a u64
length and its bytes. Blobs carry object contents, so they are never JSON-escaped.
"""

import json
import os
import re
import select
import struct

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_ONE_BLOB = struct.Struct("<IQ")  # a blob count of 1 and that blob's length
# json.dumps with separators builds an encoder per call; a task's reply is on the path from one
# task to the next, so it uses one made once.
_encode_json = json.JSONEncoder(separators=(",", ":")).encode
# json.loads of bytes first guesses their encoding and skips whitespace: 2-3x the decoding of a
# request's small header itself. The worker writes compact UTF-8 JSON, so its scanner is enough.
_scan_json = json.JSONDecoder().scan_once


# The usual request of a tiny task, as the worker writes it (engine/worker/executor_pool.cpp,
# `run`): a callable this executor has cached, no data inputs. Matched and built directly: the
# JSON scanner took 2-3x as long, on the path from one task to the next.
_RUN_CACHED_CALL = re.compile(
    rb'\{"op":"run","id":(\d+),"inputs":\[\{"k":"pyobj","size":(\d+),"key":(\d+),"b":-1\}\],'
    rb'"input_ids":\[(\d+)\],"config":(\d+)(,"batch":true)?\}')


def decode_header(raw, start=0, end=None):
    """A header written by the worker (compact UTF-8 JSON) as a dict: raw[start:end]."""
    if end is None:
        end = len(raw)
    match = _RUN_CACHED_CALL.fullmatch(raw, start, end)
    if match is not None:
        task_id, size, key, input_id, config, batch = match.groups()
        header = {"op": "run", "id": int(task_id), "inputs": [{"k": "pyobj", "size": int(size), "key": int(key), "b": -1}],
                  "input_ids": [int(input_id)], "config": int(config)}
        if batch is not None:
            header["batch"] = True
        return header
    text = raw[start:end].decode()
    try:
        header, end = _scan_json(text, 0)
    except StopIteration:
        raise ValueError("a message header is not JSON: {!r}".format(text[:80])) from None
    if end != len(text):
        raise ValueError("a message header has trailing bytes: {!r}".format(text[end:end + 80]))
    return header


def done_header(task_id, desc, start_us, end_us):
    """The header of a task's "done" reply: the common results (one PyObj, with the length of
    a tuple or list, or bytes) written directly, in the shapes the worker reads without a JSON
    parser (engine/worker/executor_reply.hpp, parse_simple_done); every other through the JSON
    encoder."""
    kind = desc.get("k")
    if kind == "pyobj" and type(desc["size"]) is int and type(desc["b"]) is int:
        if len(desc) == 3:
            return pyobj_done_header(task_id, desc["b"], desc["size"], start_us, end_us)
        if len(desc) == 4 and type(desc.get("len")) is int:
            return '{"op":"done","id":%d,"result":{"k":"pyobj","b":%d,"size":%d,"len":%d},"t":[%d,%d]}' % (
                task_id, desc["b"], desc["size"], desc["len"], start_us, end_us)
    if kind == "plain" and len(desc) == 2 and type(desc["b"]) is int:
        return plain_done_header(task_id, desc["b"], start_us, end_us)
    return _encode_json({"op": "done", "id": task_id, "result": desc, "t": [start_us, end_us]})


def pyobj_done_header(task_id, blob, size, start_us, end_us):
    """done_header of a PyObj result that is no sequence (``{"k": "pyobj", "b": blob, "size": size}``)."""
    return '{"op":"done","id":%d,"result":{"k":"pyobj","b":%d,"size":%d},"t":[%d,%d]}' % (task_id, blob, size, start_us, end_us)


def plain_done_header(task_id, blob, start_us, end_us):
    """done_header of a plain result (``{"k": "plain", "b": blob}``)."""
    return '{"op":"done","id":%d,"result":{"k":"plain","b":%d},"t":[%d,%d]}' % (task_id, blob, start_us, end_us)


# A tiny task's whole reply, header and blob, made in one piece (no text header to encode, no
# list of parts): what done_header and message_parts make for it, byte for byte.
_PYOBJ_DONE = b'{"op":"done","id":%d,"result":{"k":"pyobj","b":0,"size":%d},"t":[%d,%d]}'
_SEQUENCE_DONE = b'{"op":"done","id":%d,"result":{"k":"pyobj","b":0,"size":%d,"len":%d},"t":[%d,%d]}'
_PLAIN_DONE = b'{"op":"done","id":%d,"result":{"k":"plain","b":0},"t":[%d,%d]}'
_SMALL_BLOB = 1 << 20  # larger blobs are written as they are (message_parts), not copied
# The start of a `withdraw` message's header, as the worker writes it (executor_pool.cpp).
_WITHDRAW = b'{"op":"withdraw"'


def pyobj_done_message(task_id, blob, size, start_us, end_us):
    """The parts of the "done" message of a PyObj result (no sequence) pickled as ``blob``."""
    if len(blob) >= _SMALL_BLOB:
        return message_parts(pyobj_done_header(task_id, 0, size, start_us, end_us), [blob])
    head = _PYOBJ_DONE % (task_id, size, start_us, end_us)
    return [b"".join((_U32.pack(len(head)), head, _ONE_BLOB.pack(1, len(blob)), blob))]


def sequence_done_message(task_id, blob, size, length, start_us, end_us):
    """The parts of the "done" message of a PyObj tuple or list of ``length`` items pickled as ``blob``."""
    if len(blob) >= _SMALL_BLOB:
        return message_parts(done_header(task_id, {"k": "pyobj", "b": 0, "size": size, "len": length}, start_us, end_us), [blob])
    head = _SEQUENCE_DONE % (task_id, size, length, start_us, end_us)
    return [b"".join((_U32.pack(len(head)), head, _ONE_BLOB.pack(1, len(blob)), blob))]


def plain_done_message(task_id, blob, start_us, end_us):
    """The parts of the "done" message of a plain result ``blob`` (bytes)."""
    if len(blob) >= _SMALL_BLOB:
        return message_parts(plain_done_header(task_id, 0, start_us, end_us), [blob])
    head = _PLAIN_DONE % (task_id, start_us, end_us)
    return [b"".join((_U32.pack(len(head)), head, _ONE_BLOB.pack(1, len(blob)), blob))]


def message_parts(header, blobs=()):
    """A message as byte strings to write in order: small ones joined, large blobs as they are
    (not copied into one buffer). ``header``: a dict, or its JSON text already made."""
    head = (header if type(header) is str else _encode_json(header)).encode()
    if len(blobs) == 1 and len(blobs[0]) < _SMALL_BLOB:  # a task's result: built in one go
        blob = blobs[0]
        return [b"".join((_U32.pack(len(head)), head, _ONE_BLOB.pack(1, len(blob)), blob))]
    parts = [_U32.pack(len(head)), head, _U32.pack(len(blobs))]
    size = len(head)
    for blob in blobs:
        parts.append(_U64.pack(len(blob)))
        parts.append(blob)
        size += len(blob)
    if size < (1 << 20):
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
    next one is already here (so the replies so far need not go out before it runs). The
    descriptor is made non-blocking: `has_message(fetch=True)` takes what the pipe holds
    without waiting for more."""

    _CHUNK = 1 << 16

    def __init__(self, fd):
        self._fd = fd
        os.set_blocking(fd, False)
        self._buffer = bytearray()
        self._at = 0
        self._ready = None  # a message has_message() already took from the buffer
        self._drained = False  # the last read found the pipe empty
        self.ended = False  # a read found the pipe closed
        # Called with the id of each `withdraw` message as soon as a read brings it in whole
        # (withdrawals.py); such messages are taken out of the stream, never returned.
        self.on_withdraw = None
        self._scan_from = 0  # where the buffer may hold a withdrawal not seen yet
        # take_in looks before it reads: a read of an empty pipe raises (BlockingIOError), and
        # after a task of milliseconds that exception's cold path cost ~25 us between two tasks.
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)

    def _take(self):
        """The next message if the buffer holds all of it (then consumed), else how many more
        bytes it needs at least. One pass: it is on the path from one task to the next."""
        b, at = self._buffer, self._at
        end = len(b)
        if end - at < 4:
            return 4 - (end - at)
        (size,) = _U32.unpack_from(b, at)
        head = at + 4
        at = head + size
        if end - at < 4:
            return at + 4 - end
        (count,) = _U32.unpack_from(b, at)
        at += 4
        spans = []
        for _ in range(count):
            if end - at < 8:
                return at + 8 - end
            start = at + 8
            at = start + _U64.unpack_from(b, at)[0]
            spans.append((start, at))
        if at > end:
            return at - end
        header = decode_header(b, head, head + size)
        if count == 1 and at - start < 4096:  # a tiny task's config: a slice is quicker than a view
            blobs = [bytes(b[start:at])]
        else:
            view = memoryview(b)  # each blob copied once (one may be large); released before b changes
            blobs = [view[a:z].tobytes() for a, z in spans]
            view.release()
        if at == end:
            b.clear()
            at = self._scan_from = 0
        self._at = at
        return header, blobs

    def _fill(self, need, wait):
        """Appends what one read brings (at least `need` bytes asked); without `wait`, False
        if the pipe holds nothing now (or ended: the next waiting read says so)."""
        if self._at:
            del self._buffer[:self._at]
            self._scan_from = max(0, self._scan_from - self._at)
            self._at = 0
        while True:
            if wait and self._drained:  # a read just found the pipe empty: wait before the next
                select.select([self._fd], [], [])
            try:
                chunk = os.read(self._fd, max(self._CHUNK, min(need, 1 << 20)))
            except BlockingIOError:
                self._drained = True
                if not wait:
                    return False
                continue
            self._drained = False
            if not chunk:
                self.ended = True
                if not wait:
                    return False
                raise EOFError("the pipe closed")
            self._buffer += chunk
            if self.on_withdraw is not None:
                self._take_withdrawals()
            return True

    def take_in(self):
        """Reads what the pipe holds now, without waiting (its withdrawals are handled)."""
        if self._poll.poll(0):  # something to read, or the pipe's end (POLLHUP)
            self._fill(0, wait=False)

    def _take_withdrawals(self):
        """Hands every whole `withdraw` message in the buffer to on_withdraw and removes it.
        Its header's bytes are searched first (one C call per read): messages are walked only
        when they may be there."""
        b = self._buffer
        if b.find(_WITHDRAW, max(self._scan_from, self._at)) < 0:
            self._scan_from = max(self._at, len(b) - len(_WITHDRAW) + 1)
            return
        at, end = self._at, len(b)
        while True:
            if end - at < 4:
                break
            (size,) = _U32.unpack_from(b, at)
            head = at + 4
            stop = head + size
            if end - stop < 4:
                break
            (count,) = _U32.unpack_from(b, stop)
            stop += 4
            for _ in range(count):
                if end - stop < 8:
                    stop = None
                    break
                stop += 8 + _U64.unpack_from(b, stop)[0]
            if stop is None or stop > end:
                break
            if b.startswith(_WITHDRAW, head):
                task_id = decode_header(b, head, head + size)["id"]
                del b[at:stop]
                end = len(b)
                self.on_withdraw(task_id)
                continue
            at = stop
        self._scan_from = at

    def has_message(self, fetch=False):
        """Whether a whole message is here: already read (no system call), or with fetch=True
        also in the pipe now (one read, which read_message then need not make)."""
        if self._ready is None:
            taken = self._take()
            while type(taken) is int:
                if not fetch or not self._fill(taken, wait=False):
                    return False
                taken = self._take()
            self._ready = taken
        return True

    def ready_message(self):
        """The message has_message took (the next read_message's), or None."""
        return self._ready

    def read_message(self):
        """The next message: as many bytes as one read brings (several messages when the worker
        wrote them together), then decoded in place."""
        taken, self._ready = self._ready, None
        if taken is None:
            taken = self._take()
        while type(taken) is int:
            self._fill(taken, wait=True)
            taken = self._take()
        return taken
