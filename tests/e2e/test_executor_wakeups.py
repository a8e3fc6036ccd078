"""Short Python tasks cost few system calls and wake-ups (issue 15), and nothing else changes.

The worker writes the tasks it queues on an executor in one loop turn together; the executor
sends the replies of short tasks several to a write; the end-of-task markers on the executor's
fds 1 and 2 are read with the task's reply instead of waking the worker's loop; and the worker
sizes its queues by the executor's own timing of each task (a reply that waited no longer makes
a short task look long, which kept the queues, and so the batches, shallow). Counted with
the kernel's per-process system call counters (/proc/PID/io) on 2 workers of 1 cpu, with
failing tasks among the healthy ones; and what tasks print, through Python or straight to the
file descriptors, still reaches the client marked with the task that wrote it, also while a
long task runs.
"""

import sys

import cloudpickle
import psutil
import pytest

import treadle
from tests.conftest import wait_until

cloudpickle.register_pickle_by_value(sys.modules[__name__])

@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two workers of one cpu each: one executor each, many short tasks in flight on it."""
    workdir = str(tmp_path_factory.mktemp("workers"))
    with treadle.local_cluster(workers=2, cpus=1, worker_args=["--workdir", workdir]) as c:
        yield c


@pytest.fixture
def collecting(cluster):
    """A client whose task output is collected: (client, received items)."""
    received = []
    c = treadle.Client(cluster, output=received.extend)
    yield c, received
    c.close()


def square_or_fail(i):
    if i % 7 == 3:
        raise ValueError("bad input {}".format(i))
    return i * i


def syscalls(pid):
    """(read, write) system calls the process made so far, all its threads."""
    fields = dict(line.split(": ") for line in open("/proc/{}/io".format(pid)).read().splitlines())
    return int(fields["syscr"]), int(fields["syscw"])


def processes(cluster):
    """{"worker": [pids], "executor": [pids]}: the workers and their executors."""
    workers = [w.pid for w in cluster.workers]
    executors = [p.pid for w in workers for p in psutil.Process(w).children()
                 if "treadle.executor" in " ".join(p.cmdline())]
    return {"worker": workers, "executor": executors}


def per_task(cluster, client, n=3000):
    """(reads, writes) per task of the workers and of the executors (summed over each kind)
    while n short tasks, every seventh failing, run; checks every result."""
    pids = processes(cluster)
    assert len(pids["executor"]) == 2, pids
    before = {p: syscalls(p) for ps in pids.values() for p in ps}
    futures = [client.submit(square_or_fail, i) for i in range(n)]
    settle(client, futures)
    after = {p: syscalls(p) for ps in pids.values() for p in ps}
    check(client, futures, lambda i: i % 7 == 3, lambda i: i * i, "bad input")
    return {kind: tuple(sum(after[p][k] - before[p][k] for p in ps) / n for k in (0, 1)) for kind, ps in pids.items()}


def settle(client, futures):
    """Waits until every future finished or failed."""
    for _ in client.as_completed(futures):
        pass


def check(client, futures, fails, value, message):
    """futures[i] failed with `message i` when fails(i), else gave value(i)."""
    healthy = [i for i in range(len(futures)) if not fails(i)]
    assert client.gather([futures[i] for i in healthy]) == [value(i) for i in healthy]
    for i in range(len(futures)):
        if fails(i):
            with pytest.raises(ValueError, match=r"{} {}\b".format(message, i)):
                futures[i].result()


def warm(client):
    """Enough short tasks that the server and the workers know them short (their averages of
    task durations fall from the first, slow ones): it queues them deep on each worker."""
    client.gather([client.submit(square_or_fail, i) for i in range(0, 7 * 400, 7)])


# Measured at load 12-16 on the 2 cpus, 3 runs each, before -> after: executors 3.0 -> 2.07-2.12
# writes per task (two of them the markers); workers 1.4-1.8 -> 0.19-0.31 writes and 4.2-6.1 ->
# 0.33-0.52 reads per task.

def test_executors_reply_to_short_tasks_several_to_a_write(cluster, collecting):
    client, _ = collecting
    warm(client)
    _, writes = per_task(cluster, client)["executor"]
    assert writes < 2.5, "{:.2f} writes per task: the executors write a reply per task".format(writes)


def test_worker_writes_queued_tasks_together_and_is_not_woken_by_markers(cluster, collecting):
    client, _ = collecting
    warm(client)
    reads, writes = per_task(cluster, client)["worker"]
    assert writes < 0.8, "{:.2f} writes per task: the worker writes each task to its executor alone".format(writes)
    assert reads < 2.0, "{:.2f} reads per task: the worker reads each marker (or each reply) alone".format(reads)


def loud(i):
    import os
    import sys
    print("print of call {}".format(i))
    os.write(1, "fd 1 of call {}\n".format(i).encode())
    os.write(2, "fd 2 of call {}\n".format(i).encode())
    sys.stderr.write("stderr of call {}\n".format(i))
    if i % 5 == 2:
        raise ValueError("loud failure {}".format(i))
    return i


def quiet(i):
    return i


def test_output_of_batched_tasks_is_marked_with_its_task(collecting):
    client, received = collecting
    futures, loud_ids = [], {}
    for i in range(400):  # short tasks: replies and requests go together, markers wait
        futures.append(client.submit(quiet, i))
        f = client.submit(loud, i)
        futures.append(f)
        loud_ids[i] = f
    settle(client, futures)
    check(client, [loud_ids[i] for i in range(400)], lambda i: i % 5 == 2, lambda i: i, "loud failure")
    ids = {f.task_id: i for i, f in loud_ids.items()}
    kinds = ("print of call", "fd 1 of call", "fd 2 of call", "stderr of call")

    def lines():
        client.core.connection.poll_output()
        found = {}
        for task, label, stream, data in list(received):
            for line in data.decode().splitlines():
                for kind in kinds:
                    if line.startswith(kind + " "):
                        found.setdefault((kind, int(line.split()[-1])), []).append((task, label, stream))
        return found if len(found) == len(kinds) * 400 else None

    found = wait_until(lines, timeout=30, what="every line of output")
    streams = {"print of call": "stdout", "fd 1 of call": "stdout", "fd 2 of call": "stderr", "stderr of call": "stderr"}
    wrong = {key: marks for key, marks in found.items()
             if marks != [(loud_ids[key[1]].task_id, "loud", streams[key[0]])]}
    assert not wrong, "{} of {} lines marked wrongly: {}".format(len(wrong), len(found), sorted(wrong.items())[:5])
    assert set(ids) == {f.task_id for f in loud_ids.values()}


def write_and_wait(flag):
    import os
    import time
    os.write(1, b"raw output while running\n")
    deadline = time.monotonic() + 60
    while not os.path.exists(flag) and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.path.exists(flag)


def test_raw_output_of_a_long_task_arrives_while_it_runs(collecting, tmp_path):
    client, received = collecting
    flag = str(tmp_path / "flag")
    f = client.submit(write_and_wait, flag)
    # Not read with a reply (there is none yet): the worker polls fds 1 and 2 of a long task.

    def arrived():
        client.core.connection.poll_output()  # output is handed out by calls to the client
        return any(b"raw output while running" in d for _, _, _, d in list(received))
    wait_until(arrived, timeout=30, what="the running task's output at the client")
    open(flag, "w").close()
    assert f.result() is True
    marked = [t for t, _, s, d in received if b"raw output while running" in d]
    assert marked == [f.task_id]


def digest(data, i):
    import hashlib
    return i, len(data), hashlib.sha256(data).hexdigest()


def test_large_inputs_among_short_tasks(collecting):
    # Requests larger than a pipe's read are read in parts; short ones after them whole.
    import hashlib
    client, _ = collecting
    blobs = {i: bytes([i % 251]) * (3 << 20) + str(i).encode() for i in range(0, 40, 8)}
    futures = [client.submit(digest, blobs.get(i, b"small"), i) for i in range(40)]
    assert client.gather(futures) == [(i, len(blobs.get(i, b"small")), hashlib.sha256(blobs.get(i, b"small")).hexdigest())
                                      for i in range(40)]


def die_writing_last_words(_):
    import os
    os.write(2, b"last words before dying\n")
    os._exit(3)


def test_an_executor_dying_behind_replies_it_held_fails_only_its_task(cluster, collecting):
    # Replies of the short tasks before it may wait in the dying executor's buffer: they are
    # lost with it, so those tasks run again, and only the task that was running fails.
    client, _ = collecting
    warm(client)
    for _ in range(3):
        before = [client.submit(square_or_fail, i) for i in range(100)]
        doomed = client.submit(die_writing_last_words, 0)
        after = [client.submit(square_or_fail, i) for i in range(100, 200)]
        settle(client, before + [doomed] + after)
        with pytest.raises(treadle.TaskError) as info:
            doomed.result()
        assert "exited with status 3" in str(info.value) and "last words before dying" in str(info.value)
        check(client, before + after, lambda i: i % 7 == 3, lambda i: i * i, "bad input")
    assert all(w.poll() is None for w in cluster.workers)


def nap(seconds):
    import time
    time.sleep(seconds)
    return seconds


def test_a_held_reply_does_not_wait_for_the_long_task_after_it(collecting):
    # The short tasks' replies may wait in the executor's buffer while the next task runs: a
    # few milliseconds at most, not until a long task queued behind them has ended.
    client, _ = collecting
    warm(client)
    for _ in range(2):
        shorts = [client.submit(square_or_fail, i) for i in range(8)]
        longs = [client.submit(nap, 4.0) for _ in range(2)]
        more = [client.submit(square_or_fail, i) for i in range(8, 12)]
        settle(client, shorts)
        assert not any(f.done() for f in longs), "the short tasks' results waited for the long tasks"
        check(client, shorts, lambda i: i % 7 == 3, lambda i: i * i, "bad input")
        settle(client, longs + more)


def test_request_reader_takes_messages_however_the_pipe_splits_them():
    """The executor's reader of the request pipe decodes each message in one pass over what
    its reads brought: whole messages, several in one read, or cut anywhere (in a length, the
    header, a blob larger than a read), with has_message() asked in between or not."""
    from tests.e2e.split_requests import SplitRequests
    from treadle.runtime import pipe

    requests = SplitRequests(15)
    r = requests.read_fd
    reader = pipe.MessageReader(r)
    try:
        for i, (header, blobs) in enumerate(requests.sent):
            if i % 2:
                reader.has_message()
            assert reader.read_message() == (header, blobs)
        with pytest.raises(EOFError):
            reader.read_message()
    finally:
        requests.close()


def gated(size):
    """Waits for a byte on fd 5 (the test's gate), then returns `size` bytes."""
    import os
    os.read(5, 1)
    return b"x" * size


def test_an_executor_takes_the_next_request_before_it_replies():
    """A task ends with the next request already in the pipe: the executor reads that request
    before it writes the reply (whose write wakes the worker), so the next task starts before
    anything it does not need. Seen from the worker's side, with a reply pipe smaller than the
    reply: the executor blocks writing the reply, and the next request has left the pipe by then."""
    import fcntl
    import os
    import pickle
    import struct
    import subprocess
    import termios

    from treadle.runtime import pipe

    def unread(fd):
        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]

    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    gate_r, gate_w = os.pipe()
    fcntl.fcntl(rep_r, fcntl.F_SETPIPE_SZ, 4096)

    def as_executor():  # fds 3, 4 as the worker gives them (executor_pool.cpp); 5: the gate
        fds = [os.dup(fd) for fd in (req_r, rep_w, gate_r)]  # above 5 first: the pipes may use 3-5
        for target, fd in zip((3, 4, 5), fds):
            os.dup2(fd, target)
    executor = subprocess.Popen([sys.executable, "-m", "treadle.executor"], close_fds=False, preexec_fn=as_executor,
                                stdout=subprocess.DEVNULL)
    for fd in (req_r, rep_w, gate_r):
        os.close(fd)
    replies = pipe.MessageReader(rep_r)
    fn = cloudpickle.dumps(gated)

    def send(header, blobs):
        for part in pipe.message_parts(header, blobs):
            os.write(req_w, part)

    def run(task_id, size, first):
        inputs = [{"k": "pyobj", "size": len(fn), "key": 1, "b": 0 if first else -1}]
        blobs = ([fn] if first else []) + [pickle.dumps(("native", (size,), {}))]
        send({"op": "run", "id": task_id, "inputs": inputs, "input_ids": [1], "config": len(blobs) - 1}, blobs)
    try:
        send({"op": "hello", "server": "127.0.0.1:1", "governor": "", "secret": 0, "worker_pid": os.getpid(),
              "index": 0}, [b"secret"])
        assert replies.read_message()[0] == {"op": "ready"}
        run(1, 100_000, first=True)  # its reply does not fit the reply pipe
        wait_until(lambda: unread(req_w) == 0, what="the executor reading the first task")
        run(2, 10, first=False)      # arrives while the first task runs
        os.write(gate_w, b"12")
        wait_until(lambda: unread(req_w) == 0, what="the executor taking the next request before replying")
        done = {}
        while len(done) < 2:
            header, blobs = replies.read_message()
            assert header["op"] == "done", header
            done[header["id"]] = pickle.loads(blobs[header["result"]["b"]])
        assert done == {1: b"x" * 100_000, 2: b"x" * 10}
    finally:
        os.close(req_w)  # the executor ends at the end of its pipe
        os.close(gate_w)
        try:
            executor.wait(timeout=10)
        except subprocess.TimeoutExpired:  # blocked writing a reply nobody reads
            executor.kill()
            executor.wait()
        os.close(rep_r)
