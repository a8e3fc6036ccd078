"""A Python executor: a long-lived process that runs Python tasks for one worker.

The worker starts one per cpu (``python3 -m treadle.executor``, which runs ``main`` here) and talks to it over two pipes:
requests on fd 3, replies on fd 4. The executor's stdout and stderr are pipes too, which the
worker attributes to the task running at that moment, so everything a task prints — from
Python, C extensions or child programs — reaches the client.

Callables and Python objects (PyObj data) are unpickled once per executor and cached by the id
of the task that produced them: a function used by ten thousand tasks is unpickled once.

A task that waits on tasks it submitted secedes (task_clients.blocking): its thread hands the
reading of the request pipe to a new thread, which runs the next tasks meanwhile; when the wait
ends, the task rejoins and finishes beside them, then its thread ends. So tasks run on the main
thread until the first secession, and on the serving thread of the moment after it.
"""

import io
import os
import pickle
import signal
import sys
import threading
import time
import traceback

import _treadle_parent_death  # engine/python/parent_death.cpp

from ..core import remote_exception
from ..core.pickling import SCALAR_TYPES, is_plain
from . import engine, pipe, task_clients
from .reply_writer import MessageWriter
from .request_prefetch import PrefetchingReader
from .task_runtime import Context, InputWrapper, PyObj, cut_piece, encode_result, load_config, split_outputs
from .thread_state import thread_state as _thread_state
from .withdrawals import Withdrawals

_CACHE_LIMIT = 512
_BATCH_SECONDS = 0.002  # the longest a reply waits in the buffer for the replies after it
# The most replies held together: their write wakes the worker, which refills the pipe while
# the tasks still in it run (it keeps up to 32 there), so the executor does not run dry and
# sleep between batches.
_BATCH_REPLIES = 16


class ObjectCache:
    """Unpickled PyObj values by producer id.

    The worker mirrors this cache to know what it need not send again, so both follow one
    rule: every keyed object sent is put, in the order sent; when full, start afresh. Nothing
    else clears it: with two tasks in flight, the next task was described against the cache
    before this one ended, so a task's failure must not change what the cache holds."""

    def __init__(self, limit=_CACHE_LIMIT):
        self._items = {}
        self._limit = limit

    def get(self, key):
        return self._items.get(key)

    def put(self, key, value):
        if len(self._items) >= self._limit:
            self._items.clear()
        self._items[key] = value

    def clear(self):
        self._items.clear()


class TaskStream(io.TextIOBase):
    """sys.stdout / sys.stderr while tasks run: text goes to the worker tagged with the task
    that printed it, in order with the task's reply. Lines go out within ~50 ms; the rest at
    4 KiB or when the task ends. (Output written to file descriptors 1 and 2 directly, by C code
    or child programs, reaches the worker through its pipes instead.)"""

    def __init__(self, executor, name):
        self._executor = executor
        self.name = name   # also the attribute of each thread's _ThreadState that holds its text

    @property
    def _buffer(self):
        """This thread's: tasks that seceded and rejoined print beside the one running."""
        return getattr(_thread_state(), self.name)

    def writable(self):
        return True

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError("write() argument must be str, not {}".format(type(text).__name__))
        if not text:
            return 0
        b = self._buffer
        b.parts.append(text)
        b.size += len(text)
        if b.size >= 4096 or ("\n" in text and time.monotonic() - b.last_sent > 0.05):
            self.flush()
        return len(text)

    def has_text(self):
        return bool(self._buffer.parts)

    def flush(self, now=True):
        """now=False: at the end of a task, whose reply follows at once (and carries it along)."""
        b = self._buffer
        if not b.parts:
            return
        text = "".join(b.parts)
        b.parts = []
        b.size = 0
        b.last_sent = time.monotonic()
        self._executor.send_output(self.name, text, now)

    @property
    def encoding(self):
        return "utf-8"

    def isatty(self):
        return False


class Executor:
    def __init__(self, requests, replies):
        self.requests = requests
        self.replies = MessageWriter(replies, hold=_BATCH_SECONDS)
        self.withdrawals = Withdrawals(self.replies)
        requests.reader.on_withdraw = self.withdrawals.withdraw
        requests.prepare = _unpickle_config_ahead
        self.cache = ObjectCache()
        self.governor = None   # the worker's data address, from its hello

    @property
    def task_id(self):
        return _thread_state().task_id

    @task_id.setter
    def task_id(self, value):
        _thread_state().task_id = value

    def send_output(self, stream, text, flush=True):
        if self.task_id is not None:
            pipe.write_message(self.replies, {"op": "out", "id": self.task_id, "stream": stream, "text": text}, flush=flush)
        else:
            os.write(2, text.encode("utf-8", "replace"))

    def decode(self, desc, blobs):
        kind = desc["k"]
        if kind == "plain":
            return InputWrapper(kind, data=blobs[desc["b"]])
        if kind == "file":
            return InputWrapper(kind, path=desc["path"], size=desc["size"])
        if kind == "pyobj":
            key, blob = desc["key"], desc["b"]
            if blob < 0:  # the worker knows this executor has it
                return InputWrapper(kind, obj=self._cached(desc), size=desc["size"])
            try:
                cached = (pickle.loads(blobs[blob]), None)
            except Exception as error:  # cached too: later tasks using it fail the same way
                if isinstance(error, ModuleNotFoundError) and error.name:
                    error.add_note("(a worker imports a task's modules by name: {!r} is not on this worker's "
                                   "sys.path; see \"Failures\" in docs/python-tasks.md)".format(error.name))
                cached = (None, error)
            if key is not None:
                self.cache.put(key, cached)
            if cached[1] is not None:
                raise cached[1]
            return InputWrapper(kind, obj=cached[0], size=desc["size"])
        if kind == "array":
            return InputWrapper(kind, items=[self.decode(d, blobs) for d in desc["items"]])
        if kind == "index":
            base = self.decode(desc["base"], blobs)
            return InputWrapper(kind, base=base, bounds=desc["bounds"])
        raise ValueError("unknown input kind {!r}".format(kind))

    def decode_all(self, descs, blobs):
        """Decodes every input, even after one fails, so that each object the worker sent is
        cached as the worker assumes; then raises the first failure."""
        inputs, first_error = [], None
        for desc in descs:
            try:
                inputs.append(self.decode(desc, blobs))
            except Exception as error:
                first_error = first_error or error
        if first_error is not None:
            raise first_error
        return inputs

    def keep_objects(self, header, blobs):
        """A withdrawn call is skipped, but the objects its request carried are cached all the
        same: the worker counts them as sent to this executor, and later calls name them only
        by key (without this, those calls failed, and an IPython command could be sent again
        without end)."""
        try:
            self.decode_all(header["inputs"], blobs)
        except Exception:  # noqa: BLE001 - cached as a failure too: the calls that use it fail so
            pass

    def run_task(self, header, blobs, running):
        """Runs a task; the clients it made (to submit tasks of its own) close when it ends.
        ``running``: this thread's task_clients.RunningTask."""
        running.task_id = header["id"]
        running.scope = None
        try:
            return self._call_task(header, blobs)
        finally:
            if running.scope is None:  # it made no client (task_clients.leave, without a call)
                running.task_id = None
            else:
                task_clients.leave(running)

    def _cached(self, desc):
        """The object of a PyObj input the worker knows this executor has (``"b": -1``)."""
        cached = self.cache.get(desc["key"])
        if cached is None:
            raise RuntimeError("treadle internal error: object of task {} is not in the executor's cache".format(desc["key"]))
        if cached[1] is not None:
            raise cached[1]
        return cached[0]

    def _call_task(self, header, blobs):
        task_id = header["id"]
        descs = header["inputs"]
        if len(descs) == 1 and descs[0]["k"] == "pyobj" and descs[0]["b"] == -1:
            # The usual tiny task: a callable already unpickled here, no data inputs (no wrappers).
            first, data_inputs = self._cached(descs[0]), []
        else:
            inputs = self.decode_all(descs, blobs)
            for i, wrapper in enumerate(inputs):
                wrapper.position = i  # a returned Task may use the task's own inputs
            first, data_inputs = inputs[0].unwrap(), inputs[1:]
        raw_config = blobs[header["config"]]
        if raw_config[:1] == b"\0":  # the scheduler cutting a PyObj sequence (dslice/dget)
            piece = cut_piece(bytes(raw_config), first)
            if piece is None:
                raise ValueError("unknown py_call config {!r}".format(bytes(raw_config[:16])))
            return piece
        if data_inputs:   # futures among the arguments: their values put in as it loads
            config = load_config(raw_config, data_inputs)
        else:   # the usual tiny call: unpickled ahead, while the task before ran, or now
            config = header.get(_CONFIG_AHEAD)
            if config is None:
                config = pickle.loads(raw_config)
        fn = first
        if not callable(fn):
            raise TypeError("py_call's first input is {!r}, which is not callable".format(type(fn).__name__))
        if config[0] == "native":  # treadle's own API: any arguments, any result
            _, args, kwargs, *outputs = config   # outputs: the labels of several declared outputs
            value = fn(*args, **kwargs)
            if outputs and outputs[0] is not None:
                return [PyObj(v) for v in split_outputs(value, outputs[0])]
            return PyObj(value)
        context_flag, direct_args, *outputs = config
        if context_flag:
            if context_flag is not True:   # 2: the callable makes its context (Rain's runner: one object a task)
                return fn.call_with_context(task_id, self.log, self.record_info, self.governor,
                                            header.get("input_ids", ()), direct_args, data_inputs)
            ctx = Context(task_id, self.log, self.record_info, self.governor, header.get("input_ids", ()))
            args = [ctx, *direct_args, *data_inputs]
        else:
            args = [*direct_args, *data_inputs]
        if outputs and outputs[0] is not None:  # each value as a result of its own: bytes, str, a list...
            return split_outputs(fn(*args), outputs[0])
        return fn(*args)

    def hello(self, header, blobs):
        """The worker's first message: the server it serves and the secret, kept in memory
        for clients made inside tasks (task_clients)."""
        _die_with_parent(header.get("worker_pid"))
        if header.get("umask") is not None:
            os.umask(header["umask"])  # the user's (the worker's own is 077): engine/worker/private_files.hpp
        task_clients.configure(header["server"], blobs[header["secret"]], self.secede, self.rejoin)
        self.governor = header.get("governor") or None
        engine.configure(header.get("worker_pid"), header.get("index"))
        pipe.write_message(self.replies, {"op": "ready"})  # imported: the worker may offer our cpu

    def secede(self, task_id):
        """The task on this thread waits on futures: the worker frees its cpu, and a new thread
        reads the request pipe, so the next tasks run meanwhile."""
        _flush_streams()
        state = _thread_state()
        if not state.serving:  # seceded before, rejoined, and waits again
            pipe.write_message(self.replies, {"op": "seceded", "id": task_id})
            return
        _flush_output(True, state)  # raw output so far is this task's; what follows, the next task's
        state.serving = False
        pipe.write_message(self.replies, {"op": "seceded", "id": task_id})
        threading.Thread(target=self.serve, name="treadle-executor-serving", daemon=True).start()

    def rejoin(self, task_id):
        """The wait ended: the task runs again, beside the task of the serving thread (briefly
        more tasks than cpus, rather than waiting for a free one: no deadlock is possible)."""
        pipe.write_message(self.replies, {"op": "rejoined", "id": task_id})

    def record_info(self, task_id, text):
        pipe.write_message(self.replies, {"op": "info", "id": task_id, "info": str(text)})

    def log(self, task_id, level, message):
        pipe.write_message(self.replies, {"op": "log", "id": task_id, "level": level, "message": str(message)})

    def serve(self):
        """Reads the request pipe and runs tasks, until the pipe ends, or until a task of this
        thread seceded (another thread serves then; this one ends with its task).

        A task's reply is written once the next request is read, or known not to be there yet:
        the next task starts before anything it does not need, and the worker, woken by the
        reply, reacts while it runs. (The task's end-of-task markers go first: they delimit its
        raw output from the next task's.) Replies of tasks the worker marked `batch` (it sends
        those while its tasks take well under a millisecond) wait in the buffer while the next
        task is already read, for at most _BATCH_SECONDS: one write and one wake-up of the
        worker for several tasks. Every reply goes out before this thread waits for the pipe."""
        state = _thread_state()
        state.serving = True
        running = task_clients.running_task()
        # Per task: no lookups. The reader itself for tiny tasks; through the PrefetchingReader
        # after a task whose next request a thread of its own may be reading (`ahead`).
        requests = self.requests
        has_message, read_message = requests.reader.has_message, requests.reader.read_message
        has_message_ahead, read_message_ahead, prefetch = requests.has_message, requests.read_message, requests.prefetch
        ahead = True  # (on a thread that serves after a secession: the task before may have asked)
        next_here = False  # the request about to be read was there when the task before it ended
        write_reply, write_reply_now, defer_reply = self.replies.write_parts, self.replies.write_now, self.replies.defer
        unsent_since = None  # when the oldest reply still in the buffer was written
        held = 0             # replies in the buffer
        # The last task's reply, not written yet: (its message parts, batch, None), or (None, False,
        # _reply's arguments) for a result that may be made into a reply later (_frozen).
        ended = None
        handed = None  # _reply's arguments, for the writer's thread once the next task is checked
        while True:
            if ended is not None:
                reply, batched, unmade = ended
                ended = None
                next_here = (has_message_ahead if ahead else has_message)(fetch=True)  # read first, in any case
                if unmade is not None and next_here:
                    # A result no task can change, and the next task at hand: the writer's thread
                    # makes and writes the reply while that task runs. It is woken after the pipe's
                    # poll below, which lets go of the GIL: woken before, it could take the GIL
                    # then, between the two tasks.
                    handed = unmade
                else:
                    if unmade is not None:
                        reply = _reply(*unmade)
                    hold = False
                    if next_here and batched:
                        now = time.monotonic()
                        if unsent_since is None:
                            unsent_since, held = now, 0
                        held += 1
                        hold = held < _BATCH_REPLIES and now - unsent_since < _BATCH_SECONDS
                    if hold:
                        write_reply(reply, False)
                    else:
                        unsent_since = None
                        write_reply_now(reply)
            else:
                next_here = False
                if unsent_since is not None and not (has_message_ahead if ahead else has_message)(fetch=True):
                    self.replies.flush()
                    unsent_since = None
            try:
                header, blobs = read_message_ahead() if ahead else read_message()
            except EOFError:
                # (Beside this thread, the reader's and the reply writer's, which run no task: 3 at least.)
                if threading.current_thread() is not threading.main_thread() or threading.active_count() > 3:
                    os._exit(0)  # private-ok (os's own name): the worker is gone, so are the tasks waiting on other threads
                return
            op = header.get("op")
            if op != "run":
                if handed is not None:
                    defer_reply(_reply, handed)
                    handed = None
                if op == "hello":
                    self.hello(header, blobs)
                continue
            batch = header.get("batch")
            if not batch:
                # A withdrawal of it may wait in the pipe (the request was read before it came,
                # by the read-ahead thread or with the one before): read what is there first.
                requests.reader.take_in()
            if handed is not None:
                defer_reply(_reply, handed)
                handed = None
            if not self.withdrawals.take(header["id"]):  # the worker took it back: it never runs
                self.keep_objects(header, blobs)
                _flush_output(True, state)  # its end-of-task markers, as a task that wrote nothing
                continue
            task_id = state.task_id = header["id"]
            # A task that may take a while: its next request may come while it runs (with two in
            # flight), and is read meanwhile; so is a withdrawal of the one behind it.
            ahead = not batch
            if ahead:
                prefetch()
            start_us = time.time_ns() // 1000
            unmade = None
            try:
                result = self.run_task(header, blobs, running)
                end_us = time.time_ns() // 1000
                if not batch and type(result) is PyObj and _frozen(result.obj):
                    reply, unmade = None, (task_id, result, start_us, end_us)
                else:
                    reply = _reply(task_id, result, start_us, end_us)
            except BaseException as error:  # noqa: B902 - report everything, even SystemExit
                # A KeyboardInterrupt too: the task raised it (no Ctrl-C reaches an executor, in a
                # process group of its own); re-raised, it ended the executor (tryout10).
                # When it ran, by the wall clock the worker uses: a reply may wait (in this buffer,
                # or for the worker's loop), and the worker sizes its queue by how long tasks take.
                reply = pipe.message_parts({"op": "failed", "id": task_id, "error": _describe(error),
                                            "t": [start_us, time.time_ns() // 1000]}, [_pack(error)])
            serving = state.serving
            _flush_output(serving, state)  # (a task that seceded ended its raw output then)
            state.task_id = None
            self.withdrawals.ended(task_id)
            if not serving:  # it seceded: another thread reads the pipe; its reply goes now
                write_reply(reply if unmade is None else _reply(*unmade), True)
                return
            ended = (reply, batch, unmade)


# The key, in a run request's header, of its config unpickled by the read-ahead thread (not
# text: a header from the worker is JSON, whose keys are, so none of its keys can be this one).
_CONFIG_AHEAD = object()


def _unpickle_config_ahead(header, blobs):
    """On the read-ahead thread (request_prefetch), while the task before runs: the call's config
    unpickled, a cold step less between the two tasks. (Not a cut of a sequence, whose config is
    no pickle; not the inputs, cached in the order the tasks run. One that fails to unpickle is
    left to fail again as its task runs, as a task's failure.)"""
    if header.get("op") != "run" or len(header["inputs"]) > 1:  # data inputs: loaded with them, as it runs
        return
    try:
        raw_config = blobs[header["config"]]
        if raw_config[:1] != b"\0":
            header[_CONFIG_AHEAD] = pickle.loads(raw_config)
    except Exception:
        pass


# A tuple's sys.getsizeof by arithmetic (a header and a pointer per item: exact), and pickle's
# dumps called as dumps_plain would: after a long task each call of the reply's path runs cold
# (several microseconds each), so the usual reply makes as few as it can.
_TUPLE_BASE = sys.getsizeof(())
_TUPLE_ITEM = sys.getsizeof((None,)) - _TUPLE_BASE
_pickle_plain = pickle.dumps
_PROTOCOL = pickle.HIGHEST_PROTOCOL


def _frozen(obj):
    """Whether ``obj`` is a number, text, bytes or None, or a short tuple of those: what no later
    task can change, so its reply may be made after the next task started."""
    kind = type(obj)
    if kind is tuple:
        if len(obj) > 16:
            return False
        for item in obj:
            if type(item) not in SCALAR_TYPES:
                return False
        return True
    return kind in SCALAR_TYPES


def _reply(task_id, result, start_us, end_us):
    """The reply (the message's parts) of a task that returned ``result``, timed until end_us. The
    usual results (a number, text, or a short tuple or list of those of the native API, bytes of
    HyperLoom's) are written as one piece; any other through its description (encode_result,
    which raises for what cannot be sent). (After a long task this path runs cold: each
    function call less counts.)"""
    if type(result) is PyObj:
        obj = result.obj
        kind = type(obj)
        if kind is tuple and is_plain(obj):
            return pipe.sequence_done_message(task_id, _pickle_plain(obj, _PROTOCOL), _TUPLE_BASE + _TUPLE_ITEM * len(obj),
                                              len(obj), start_us, end_us)
        if kind in SCALAR_TYPES:
            return pipe.pyobj_done_message(task_id, _pickle_plain(obj, _PROTOCOL), sys.getsizeof(obj), start_us,
                                           end_us)
        if kind is list and is_plain(obj):
            return pipe.sequence_done_message(task_id, _pickle_plain(obj, _PROTOCOL), sys.getsizeof(obj), len(obj), start_us,
                                              end_us)
    if type(result) is bytes:
        return pipe.plain_done_message(task_id, result, start_us, end_us)
    desc, blobs = encode_result(result)
    return pipe.message_parts(pipe.done_header(task_id, desc, start_us, end_us), blobs)


# Sent by the kernel when the worker dies (the parent-death signal): a signal nothing else sends.
_WORKER_DIED = signal.SIGRTMAX


def _die_with_parent(worker_pid):
    """A killed worker takes its executor along, and the programs its tasks started: the
    worker made the executor lead a process group, which they joined, and the parent-death
    signal ends that group at once, whatever the task is doing (the handler is C:
    engine/python/parent_death.cpp). A worker that ends otherwise ends the group itself."""
    _treadle_parent_death.end_group_when_parent_dies(_WORKER_DIED, worker_pid or 0)


# treadle's package folder: the frames above the user's function (the executor, an API's runner)
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _describe(error):
    """The traceback of a task's exception from the user's own code: without the frames of
    treadle that called it (the executor, Rain's or IPython's runner)."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        tb = tb.tb_next
    return remote_exception.as_main("".join(traceback.format_exception(type(error), error, tb)).rstrip())


def _pack(error):
    """The exception itself, for the client to raise (empty if it cannot be packed at all)."""
    try:
        return remote_exception.pack(error)
    except Exception:
        return b""


# Written to fds 1 and 2 after each task: the worker credits raw output (from C code or child
# programs) written before it to that task, and what follows to the next one.
END_OF_TASK = b"\x00\x1etreadle:end-of-task\x1e\x00"


def _flush_streams(now=True):
    for stream in (sys.stdout, sys.stderr):
        try:
            if isinstance(stream, TaskStream):
                stream.flush(now)
            else:
                stream.flush()
        except Exception:
            pass


def _flush_output(raw, state):
    """What the task printed goes before the reply that ends the task (and out with it); and
    with ``raw``, the end-of-task markers (the task did not secede, which wrote them). ``state``:
    the calling thread's _ThreadState."""
    out, err = sys.stdout, sys.stderr
    if type(out) is not TaskStream or type(err) is not TaskStream or state.stdout.parts or state.stderr.parts:
        _flush_streams(now=False)  # else (as the executor set them, nothing printed) there is nothing to flush
    if not raw:
        return
    try:
        os.write(1, END_OF_TASK)
    except OSError:
        pass
    try:
        os.write(2, END_OF_TASK)
    except OSError:
        pass


def main():
    # A batch scheduler ending a job (scancel, qdel) sends SIGTERM to every process of it. The
    # worker decides what that means (it stops, and its executors die with it: the parent-death
    # signal); an executor dying first would fail its task as if the task had killed it. The
    # worker itself ends an executor with SIGKILL. (A handler, not SIG_IGN: programs the task
    # starts get the default back.) The worker starts us with SIGTERM blocked, so one sent while
    # this interpreter was starting waits for the handler.
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    requests = PrefetchingReader(pipe.MessageReader(3), 3)
    replies = io.open(4, "wb", buffering=1 << 16)
    sys.stdin = io.StringIO("")
    task_clients.become_executor()
    executor = Executor(requests, replies)
    sys.stdout = TaskStream(executor, "stdout")
    sys.stderr = TaskStream(executor, "stderr")
    executor.serve()
    if _thread_state().serving:
        return  # the pipe ended
    threading.Event().wait()  # a task of this thread seceded: the serving thread exits the process


if __name__ == "__main__":
    main()
