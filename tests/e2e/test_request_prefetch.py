"""An executor reads its next request while the task before it runs (runtime/request_prefetch.py).

After a task of ~10 ms the executor's path to the next call runs cold, so the next request is
read and decoded by a thread of the executor as it arrives, while the task runs (for requests
the worker did not mark `batch`). Driven here over real pipes as the worker drives them: the
request leaves the pipe while the task before it still runs, the replies are the same, the
executor still ends at the end of its pipe (also when it ends while a task runs), and the
reader gives the same messages however the pipe splits them with prefetches asked in between.
The next call's arguments are unpickled by that thread too; ones that fail to unpickle fail
their own task, as always.
"""

import fcntl
import os
import pickle
import struct
import subprocess
import sys
import termios

import cloudpickle
import pytest

from tests.conftest import wait_until
from tests.e2e.split_requests import SplitRequests
from treadle.runtime import pipe
from treadle.runtime.request_prefetch import PrefetchingReader

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def gated(value):
    """Waits for a byte on fd 5 (the test's gate), then returns `value`."""
    import os
    os.read(5, 1)
    return value


def unread(fd):
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


class DrivenExecutor:
    """`python3 -m treadle.executor` with fds 3 and 4 as the worker gives them and fd 5 a gate
    its tasks wait on; the test plays the worker. Its tasks call `fn` (by default `gated`)."""

    def __init__(self, fn=gated):
        req_r, self.req_w = os.pipe()
        self.rep_r, rep_w = os.pipe()
        self.rep_w = os.dup(rep_w)  # the reply pipe's other end, as the executor has it (to fill it)
        gate_r, self.gate_w = os.pipe()

        def as_executor():
            fds = [os.dup(fd) for fd in (req_r, rep_w, gate_r)]  # above 5 first: the pipes may use 3-5
            for target, fd in zip((3, 4, 5), fds):
                os.dup2(fd, target)
        self.process = subprocess.Popen([sys.executable, "-m", "treadle.executor"], close_fds=False,
                                        preexec_fn=as_executor, stdout=subprocess.DEVNULL)
        for fd in (req_r, rep_w, gate_r):
            os.close(fd)
        self.replies = pipe.MessageReader(self.rep_r)
        self.fn = cloudpickle.dumps(fn)
        self.send({"op": "hello", "server": "127.0.0.1:1", "governor": "", "secret": 0, "worker_pid": os.getpid(),
                   "index": 0}, [b"secret"])
        assert self.replies.read_message()[0] == {"op": "ready"}
        self.sent_fn = False

    def send(self, header, blobs):
        os.write(self.req_w, b"".join(pipe.message_parts(header, blobs)))

    def run(self, task_id, value, then=None):
        """Sends the task (and `then`'s, (task_id, value), in the same write)."""
        data = self.request(task_id, value)
        if then is not None:
            data += self.request(*then)
        os.write(self.req_w, data)

    def request(self, task_id, value):
        first = not self.sent_fn
        self.sent_fn = True
        inputs = [{"k": "pyobj", "size": len(self.fn), "key": 1, "b": 0 if first else -1}]
        blobs = ([self.fn] if first else []) + [pickle.dumps(("native", (value,), {}))]
        header = {"op": "run", "id": task_id, "inputs": inputs, "input_ids": [1], "config": len(blobs) - 1}
        return b"".join(pipe.message_parts(header, blobs))

    def results(self, n):
        done = {}
        while len(done) < n:
            header, blobs = self.replies.read_message()
            assert header["op"] == "done", header
            done[header["id"]] = pickle.loads(blobs[header["result"]["b"]])
        return done

    def close(self):
        for fd in (self.req_w, self.gate_w, self.rep_w):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        finally:
            os.close(self.rep_r)


@pytest.fixture
def executor():
    e = DrivenExecutor()
    try:
        yield e
    finally:
        e.close()


def test_the_next_request_leaves_the_pipe_while_the_task_before_it_runs(executor):
    # Two in flight, as the worker keeps them once tasks are known short: the first two in one
    # write, then one more as each reply comes.
    executor.run(1, "one", then=(2, (2, "x" * 100)))
    wait_until(lambda: unread(executor.req_w) == 0, what="the executor reading the first two tasks")
    os.write(executor.gate_w, b"1")
    assert executor.results(1) == {1: "one"}
    for task_id in (3, 4):
        executor.run(task_id, (task_id, "x" * 100))  # arrives while the task before it waits at the gate
        wait_until(lambda: unread(executor.req_w) == 0, what="the executor reading request {} meanwhile".format(task_id))
        assert unread(executor.rep_r) == 0, "a reply came before the gate opened"
        os.write(executor.gate_w, b"1")
        assert executor.results(1) == {task_id - 1: (task_id - 1, "x" * 100)}
    os.write(executor.gate_w, b"1")
    assert executor.results(1) == {4: (4, "x" * 100)}


def test_the_executor_ends_with_its_pipe_while_a_task_runs(executor):
    executor.run(1, "one", then=(2, "two"))
    wait_until(lambda: unread(executor.req_w) == 0, what="the executor reading both requests")
    os.write(executor.gate_w, b"1")
    assert executor.results(1) == {1: "one"}
    # task 2 runs, the thread waits on the pipe for the next request; the worker is gone instead
    os.close(executor.req_w)
    os.write(executor.gate_w, b"1")
    assert executor.results(1) == {2: "two"}
    executor.process.wait(timeout=10)


class MakesDirectory:
    """An argument whose unpickling makes a directory: when the executor unpickled it shows."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


class FailsToUnpickle:
    def __reduce__(self):
        return (int, ("not a number",))


def test_the_next_calls_arguments_are_unpickled_while_the_task_before_it_runs(executor, tmp_path):
    marker = str(tmp_path / "unpickled")
    executor.run(1, "one", then=(2, "two"))
    wait_until(lambda: unread(executor.req_w) == 0, what="the executor reading both requests")
    os.write(executor.gate_w, b"1")
    assert executor.results(1) == {1: "one"}
    executor.run(3, MakesDirectory(marker))  # task 2 waits at the gate meanwhile
    wait_until(lambda: os.path.isdir(marker), what="task 3's arguments unpickled while task 2 runs")
    assert unread(executor.rep_r) == 0, "a reply came before the gate opened"
    os.write(executor.gate_w, b"1")
    assert executor.results(1) == {2: "two"}
    os.write(executor.gate_w, b"1")
    assert executor.results(1) == {3: None}  # os.mkdir's result, unpickled once


def test_arguments_that_fail_to_unpickle_ahead_fail_their_own_task(executor):
    executor.run(1, "one", then=(2, "two"))
    wait_until(lambda: unread(executor.req_w) == 0, what="the executor reading both requests")
    os.write(executor.gate_w, b"1")
    assert executor.results(1) == {1: "one"}
    executor.run(3, FailsToUnpickle())
    wait_until(lambda: unread(executor.req_w) == 0, what="the executor reading request 3 while task 2 runs")
    os.write(executor.gate_w, b"1")
    assert executor.results(1) == {2: "two"}
    header, blobs = executor.replies.read_message()
    assert header["op"] == "failed" and header["id"] == 3, header
    assert "ValueError" in header["error"] and "not a number" in header["error"], header["error"]
    executor.run(4, "four")  # the executor goes on
    os.write(executor.gate_w, b"1")
    assert executor.results(1) == {4: "four"}


def test_the_reader_gives_the_same_messages_with_prefetches_in_between():
    """However the pipe splits the messages, and whether the thread or the caller reads them."""
    requests = SplitRequests(7)
    r = requests.read_fd
    reader = PrefetchingReader(pipe.MessageReader(r), r)
    try:
        for i, (header, blobs) in enumerate(requests.sent):
            if i % 3 == 1:
                reader.has_message(fetch=True)
            assert reader.read_message() == (header, blobs)
            if i % 2:
                reader.prefetch()
        with pytest.raises(EOFError):
            reader.read_message()
    finally:
        requests.close()


def test_withdrawals_are_taken_out_of_the_stream_as_they_are_read():
    """Each `withdraw` goes to on_withdraw, in order, before the reader returns the run after
    it, and is never returned as a request (runtime/withdrawals.py)."""
    requests = SplitRequests(11, withdrawals=True)
    r = requests.read_fd
    reader = PrefetchingReader(pipe.MessageReader(r), r)
    seen = []
    reader.reader.on_withdraw = seen.append
    try:
        for i, (header, blobs) in enumerate(requests.sent):
            if i % 3 == 1:
                reader.has_message(fetch=True)
            assert reader.read_message() == (header, blobs)
            # Every one before it was seen (later ones may have been read already).
            assert seen == requests.withdrawn[:len(seen)] and len(seen) >= sum(w < i for w in requests.withdrawn)
            if i % 2:
                reader.prefetch()
        with pytest.raises(EOFError):
            reader.read_message()
        assert seen == requests.withdrawn
    finally:
        requests.close()
