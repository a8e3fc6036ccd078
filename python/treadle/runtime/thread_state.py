"""What each thread of a Python executor runs (executor.py): the serving thread, and the threads
of tasks that seceded (they finish their task beside it).

Plain attributes, reached through a thread-local once per serve loop: the way from one task to
the next runs cold (its code and data left the caches while the task ran), and each
thread-local lookup there cost microseconds.
"""

import threading


class _TextBuffer:
    """A thread's text printed to one stream and not sent yet."""

    __slots__ = ("parts", "size", "last_sent")

    def __init__(self):
        self.parts = []
        self.size = 0
        self.last_sent = 0.0


class _ThreadState:
    """What a thread of the executor runs: its task, whether it reads the request pipe (a task
    that seceded closed its raw output with end-of-task markers then, and does not), and its
    text for each stream (named as the stream)."""

    __slots__ = ("task_id", "serving", "stdout", "stderr")

    def __init__(self):
        self.task_id = None
        self.serving = False
        self.stdout = _TextBuffer()
        self.stderr = _TextBuffer()


class _Threads(threading.local):
    state = None


_threads = _Threads()


def thread_state():
    """The calling thread's _ThreadState (made on first use)."""
    state = _threads.state
    if state is None:
        state = _threads.state = _ThreadState()
    return state
