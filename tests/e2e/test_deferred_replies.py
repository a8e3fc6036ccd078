"""A task's reply made and written by a thread of the executor while the next task runs
(runtime/reply_writer.py): for a result no task can change any more (numbers, text, a short
tuple of those), when the next request is already read.

Driven over real pipes as the worker drives the executor (tests/e2e/test_request_prefetch.py):
with the reply pipe full, no reply can be written, yet the next task starts; once the worker
reads, the replies come in the order the tasks ended. And the writer itself: a reply handed
over is written by its thread, or before anything written after it, with Python's switch
interval lowered only while it waits.
"""

import fcntl
import io
import os
import pickle
import select
import sys

import cloudpickle

from tests.conftest import wait_until
from tests.e2e.test_request_prefetch import DrivenExecutor
from treadle.runtime import pipe
from treadle.runtime.reply_writer import MessageWriter

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def touch_then(arg):
    """Creates the file `path` (if given), then returns `value`."""
    path, value = arg
    if path:
        open(path, "w").close()
    return value


def fill(fd):
    """Writes to the pipe until it is full; how many bytes that took. (Its flags are the
    executor's fd's too: blocking again after.)"""
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    written = 0
    try:
        for size in (4096, 1):
            while True:
                try:
                    written += os.write(fd, b"\0" * size)
                except BlockingIOError:
                    break
    finally:
        fcntl.fcntl(fd, fcntl.F_SETFL, flags)
    return written


def read_exactly(fd, size):
    data = b""
    while len(data) < size:
        select.select([fd], [], [])
        try:
            data += os.read(fd, size - len(data))
        except BlockingIOError:
            pass
    return data


def test_the_next_task_starts_while_the_reply_before_it_cannot_be_written(tmp_path):
    executor = DrivenExecutor(touch_then)
    try:
        junk = fill(executor.rep_w)   # no reply fits in the pipe until the worker reads
        started = tmp_path / "task 2 started"
        executor.run(1, (None, (1, "one")), then=(2, (str(started), (2, "two"))))
        wait_until(started.exists, what="task 2 starting while task 1's reply waits for room in the pipe")
        assert read_exactly(executor.rep_r, junk) == b"\0" * junk
        replies = [executor.replies.read_message() for _ in range(2)]
        assert [(h["op"], h["id"]) for h, _ in replies] == [("done", 1), ("done", 2)]
        assert [pipe_value(h, blobs) for h, blobs in replies] == [(1, "one"), (2, "two")]
        (start1, end1), (start2, _) = (h["t"] for h, _ in replies)
        assert start1 <= end1 <= start2, "task 1's times are its own, not when its reply was made"
    finally:
        executor.close()


def pipe_value(header, blobs):
    return pickle.loads(blobs[header["result"]["b"]])


def test_a_reply_handed_over_is_written_by_the_writers_thread():
    r, w = os.pipe()
    writer = MessageWriter(io.open(w, "wb", buffering=1 << 16), hold=0.002)
    interval = sys.getswitchinterval()
    try:
        writer.defer(lambda task: pipe.message_parts({"op": "done", "id": task}), (1,))
        reader = pipe.MessageReader(r)
        assert reader.read_message() == ({"op": "done", "id": 1}, [])   # nobody else wrote: its thread did
        wait_until(lambda: sys.getswitchinterval() == interval, what="Python's switch interval back")
        # Handed over, then a message written at once: the reply still comes first.
        writer.defer(lambda task: pipe.message_parts({"op": "done", "id": task}), (2,))
        writer.write_message({"op": "out", "id": 3, "stream": "stdout", "text": "x"})
        assert reader.read_message() == ({"op": "done", "id": 2}, [])
        assert reader.read_message() == ({"op": "out", "id": 3, "stream": "stdout", "text": "x"}, [])
        wait_until(lambda: sys.getswitchinterval() == interval, what="Python's switch interval back")
    finally:
        sys.setswitchinterval(interval)
        os.close(w)
        os.close(r)
