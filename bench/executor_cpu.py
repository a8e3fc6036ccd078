"""One Python executor driven alone over its pipes, as a worker drives it: its CPU per tiny task.

    /usr/bin/python3 bench/executor_cpu.py [--shape native|loom] [--tasks 10000] [--depth 32]
                                           [--rounds N] [--profile FILE] [--callgrind [--keep DIR]]
                                           [--prefix DIR]

Starts ``/usr/bin/python3 -m treadle.executor`` with the worker's pipes (requests on its fd 3,
replies on fd 4, stdout and stderr drained), says hello, runs 1,000 tasks to warm it up, then
``--tasks`` more, keeping ``--depth`` in flight and sending the requests the replies make room
for in one write (as the worker does for short tasks, marked ``batch``). The requests are
written as the worker writes them (engine/worker/executor_pool.cpp, ``run``): the function a
PyObj input cached after the first task, the arguments in the config.

Shapes: ``native`` is workload 6b's ``square(i)`` (config ``("native", (i,), {})``, result a
PyObj); ``loom`` is 6a's ``py_task(n_direct_args=1)`` returning ``str(i * i).encode()``;
``rain`` is 9a's ``@remote`` function doing the same (its runner, the call's short form).

Prints the executor's CPU time per task (``schedstat`` of each of its threads: nanoseconds, not
the 10 ms ticks of ``times``) over the measured tasks, its read and write system calls
(``/proc/PID/io``) and context switches per task. On this shared machine compare CPU time, never wall time; for a figure the
load cannot move, ``--callgrind`` runs the executor under valgrind twice (1,000 and
1,000 + ``--tasks`` tasks) and prints the difference in instructions per task. ``--profile FILE``
runs it under cProfile (written to FILE when the pipe ends) and prints the top functions.
"""

import argparse
import os
import pickle
import select
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PREFIX_PY = os.path.join(os.path.dirname(HERE), "prefix", "lib", "treadle", "python")
if PREFIX_PY not in sys.path and os.path.isdir(PREFIX_PY):
    sys.path.insert(0, PREFIX_PY)

import cloudpickle  # noqa: E402

WARMUP = 1000
END_OF_TASK = b"\x00\x1etreadle:end-of-task\x1e\x00"
FN_KEY = 1  # the producer id of the function's PyObj: cached by the executor after the first task


def square(x):
    return x * x


def loom_square(i):
    return str(i * i).encode()


def rain_square(ctx, i):
    return str(i * i).encode()


def rain_runner():
    """What a ``@remote`` function sends as its task's function: the client's runner of it."""
    from treadle.rain.client import remote
    return remote()(rain_square)._runner


def message(header, blobs=()):
    head = header.encode()
    parts = [struct.pack("<I", len(head)), head, struct.pack("<I", len(blobs))]
    for blob in blobs:
        parts += [struct.pack("<Q", len(blob)), blob]
    return b"".join(parts)


class Requests:
    """The worker's requests for task ids 100, 101, ...: the function's blob only in the first."""

    def __init__(self, shape):
        self.shape = shape
        fn = {"native": square, "loom": loom_square, "rain": rain_runner}[shape]
        fn = fn() if shape == "rain" else fn
        self.fn_blob = cloudpickle.dumps(fn, protocol=pickle.HIGHEST_PROTOCOL)
        self.sent_fn = False
        self.next_id = 100

    def make(self, i):
        task_id = self.next_id
        self.next_id += 1
        if self.shape == "native":
            config = pickle.dumps(("native", (i,), {}), protocol=pickle.HIGHEST_PROTOCOL)
        elif self.shape == "rain":   # a py_call whose runner makes its context; a plain call: (2, args)
            config = pickle.dumps((2, (i,)), protocol=pickle.HIGHEST_PROTOCOL)
        else:
            config = pickle.dumps((False, (i,)), protocol=pickle.HIGHEST_PROTOCOL)
        size = len(self.fn_blob)
        if self.sent_fn:
            fn = '{"k":"pyobj","size":%d,"key":%d,"b":-1}' % (size, FN_KEY)
            blobs = [config]
        else:
            fn = '{"k":"pyobj","size":%d,"key":%d,"b":0}' % (size, FN_KEY)
            blobs = [self.fn_blob, config]
            self.sent_fn = True
        header = '{"op":"run","id":%d,"inputs":[%s],"input_ids":[%d],"config":%d,"batch":true}' % (
            task_id, fn, FN_KEY, len(blobs) - 1)
        return message(header, blobs)


class Replies:
    """Splits the reply pipe's bytes into messages; counts the tasks that ended."""

    def __init__(self):
        self.buffer = bytearray()
        self.ended = 0
        self.other = []

    def feed(self, chunk):
        self.buffer += chunk
        b = self.buffer
        at = 0
        while True:
            if len(b) - at < 4:
                break
            (size,) = struct.unpack_from("<I", b, at)
            head_at = at + 4
            end = head_at + size
            if len(b) < end + 4:
                break
            (count,) = struct.unpack_from("<I", b, end)
            end += 4
            complete = True
            for _ in range(count):
                if len(b) < end + 8:
                    complete = False
                    break
                (n,) = struct.unpack_from("<Q", b, end)
                end += 8 + n
            if not complete or end > len(b):
                break
            head = bytes(b[head_at:head_at + size])
            if head.startswith(b'{"op":"done"'):
                self.ended += 1
            elif head.startswith(b'{"op":"failed"'):
                raise SystemExit("a task failed: " + head.decode()[:2000])
            else:
                self.other.append(head)
            at = end
        del b[:at]


# The executor under cProfile; it ends with os._exit when its pipe closes (a thread of its own
# holds replies), so the profile is written there.
PROFILED = """
import cProfile, os
from treadle.runtime.executor import main
profile, end = cProfile.Profile(), os._exit
def write_and_exit(code):
    profile.disable()
    profile.dump_stats({!r})
    end(code)
os._exit = write_and_exit
profile.enable()
main()
write_and_exit(0)
"""


_package_path = PREFIX_PY  # where the executor's treadle comes from (--prefix)


def start_executor(wrapper):
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()

    def fds():  # copies first: a pipe end may already be fd 3 or 4 (and close-on-exec there)
        requests, replies = os.dup(req_r), os.dup(rep_w)
        os.dup2(requests, 3)
        os.dup2(replies, 4)

    env = dict(os.environ, PYTHONPATH=_package_path + os.pathsep + os.environ.get("PYTHONPATH", ""), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(wrapper if wrapper and wrapper[0] == "/usr/bin/python3"
                            else wrapper + ["/usr/bin/python3", "-m", "treadle.executor"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=fds, close_fds=False, env=env)  # our pipes are close-on-exec; 3 and 4 are not
    os.close(req_r)
    os.close(rep_w)
    return proc, req_w, rep_r


def cpu_ns(pid):
    """CPU time of all its threads (the process's own schedstat is its main thread's)."""
    total = 0
    for tid in os.listdir("/proc/{}/task".format(pid)):
        with open("/proc/{}/task/{}/schedstat".format(pid, tid)) as f:
            total += int(f.read().split()[0])
    return total


def io_calls(pid):
    """Read and write system calls, and context switches (voluntary + not: of all its threads)."""
    with open("/proc/{}/io".format(pid)) as f:
        fields = dict(line.split(": ") for line in f.read().splitlines())
    switches = 0
    for tid in os.listdir("/proc/{}/task".format(pid)):
        with open("/proc/{}/task/{}/status".format(pid, tid)) as f:
            switches += sum(int(line.split()[1]) for line in f if "ctxt_switches:" in line)
    return int(fields["syscr"]), int(fields["syscw"]), switches


def drive(shape, tasks, depth, wrapper=(), measure=True):
    """Runs WARMUP + tasks tasks; returns (cpu ns, reads, writes) over the last `tasks`."""
    proc, req_w, rep_r = start_executor(list(wrapper))
    requests, replies = Requests(shape), Replies()
    os.write(req_w, message('{"op":"hello","server":"127.0.0.1:1","governor":"","secret":0,"worker_pid":%d,"index":0}'
                            % os.getpid(), [b"secret"]))
    total = WARMUP + tasks
    sent = 0
    outputs = {proc.stdout.fileno(): False, proc.stderr.fileno(): False}  # fd: full at the last read
    for fd in outputs:
        os.set_blocking(fd, False)
    before = None
    pending = b""
    errors = b""
    while replies.ended < total:
        if before is None and replies.ended >= WARMUP and measure:
            before = (cpu_ns(proc.pid),) + io_calls(proc.pid)
        if not pending:
            room = min(depth - (sent - replies.ended), total - sent)
            if room > 0:
                pending = b"".join(requests.make(sent + k) for k in range(room))
                sent += room
        wfds = [req_w] if pending else []
        # As the worker: stdout and stderr are read with the replies, not polled (markers would
        # wake it), except while they are full.
        readable, writable, _ = select.select([rep_r] + [fd for fd, full in outputs.items() if full], wfds, [])
        if writable:
            n = os.write(req_w, pending)
            pending = pending[n:]
        if not readable:
            continue
        chunk = os.read(rep_r, 1 << 16) if rep_r in readable else b""
        for fd in outputs:
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:
                data = b""
            outputs[fd] = len(data) == 1 << 16
            if fd == proc.stderr.fileno():
                errors = (errors + data.replace(END_OF_TASK, b""))[-4000:]
        if rep_r in readable:
            if not chunk:
                raise SystemExit("the executor ended: " + errors.decode(errors="replace")[-2000:])
            replies.feed(chunk)
    after = (cpu_ns(proc.pid),) + io_calls(proc.pid) if measure else None
    os.close(req_w)
    for fd in outputs:
        os.set_blocking(fd, True)
    while True:  # drain until the executor exits (cProfile writes its file then)
        readable, _, _ = select.select([rep_r] + list(outputs), [], [], 30)
        if not readable:
            break
        done = False
        for fd in readable:
            if not os.read(fd, 1 << 16):
                done = done or fd == rep_r
        if done:
            break
    proc.wait(60)
    os.close(rep_r)
    if not measure:
        return None
    return tuple(a - b for a, b in zip(after, before))


def callgrind_instructions(shape, tasks, depth, keep=None):
    """Instructions per task: callgrind's total for WARMUP + tasks tasks minus that for WARMUP.
    ``keep``: a folder to leave both outputs in (for callgrind_annotate)."""
    totals = []
    for n in (0, tasks):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(keep or tmp, "callgrind.{}.{}".format(shape, WARMUP + n))
            drive(shape, n, depth, wrapper=("valgrind", "--tool=callgrind", "--callgrind-out-file=" + out), measure=False)
            with open(out) as f:
                for line in f:
                    if line.startswith("summary:") or line.startswith("totals:"):
                        totals.append(int(line.split()[1]))
                        break
    return (totals[1] - totals[0]) / tasks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=("native", "loom", "rain"), default="native")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--depth", type=int, default=32)  # as the worker keeps tiny tasks (executor_pool.cpp, depth)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--profile", metavar="FILE")
    parser.add_argument("--callgrind", action="store_true")
    parser.add_argument("--keep", metavar="DIR", help="with --callgrind: keep callgrind's outputs in DIR")
    parser.add_argument("--prefix", metavar="DIR", help="the treadle install to drive (default: this worktree's prefix), "
                        "e.g. another worktree's prefix to compare builds")
    args = parser.parse_args()
    if args.prefix:
        global _package_path
        _package_path = os.path.join(os.path.abspath(args.prefix), "lib", "treadle", "python")
    if args.callgrind:
        print("{} instructions per task ({}, depth {})".format(
            round(callgrind_instructions(args.shape, args.tasks, args.depth, args.keep)), args.shape, args.depth))
        return
    wrapper = ("/usr/bin/python3", "-c", PROFILED.format(args.profile)) if args.profile else ()
    for _ in range(args.rounds):
        ns, reads, writes, switches = drive(args.shape, args.tasks, args.depth, wrapper)
        print("{:.2f} us CPU per task; per task {:.3f} reads, {:.3f} writes, {:.3f} context switches ({}, depth {}, load {:.1f})"
              .format(ns / args.tasks / 1000, reads / args.tasks, writes / args.tasks, switches / args.tasks, args.shape,
                      args.depth, os.getloadavg()[0]))
    if args.profile:
        import pstats
        pstats.Stats(args.profile).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main()
