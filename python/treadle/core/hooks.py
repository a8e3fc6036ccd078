"""What treadle's clients tell whoever listens, so no tool has to patch them.

Two listeners exist: the notebook's cell tracker (``notebook/cell_tracker.py``: routes what
tasks print to the cells that submitted them, cancels an interrupted cell's tasks, shows progress
while a cell waits) and the lineage (``core/lineage.py``: remembers submitted plans so a graph
can be drawn from futures later). A listener subclasses :class:`ClientListener` and
overrides what it needs. With no listener, a hook costs the client one truth test.
"""

import contextlib
import threading
import weakref

listeners = []
_sending = threading.local()   # .tokens: submit_deferred's tokens of the calls being sent now; .native: see native_sending
_deferring = weakref.WeakSet()  # clients that hold calls back to send them later (send_deferred())


class ClientListener:
    """The hooks, all doing nothing."""

    def client_created(self, client):
        """A client connected (a core.client.ClientBase: a HyperLoom client, or the one inside
        every native ``treadle.Client``)."""

    def plan_submitted(self, client, base, plan, tasks, futures):
        """``client.submit(tasks)`` sent ``plan`` (a core.plan.EncodedPlan, its tasks numbered
        from ``base``) and returned ``futures``."""

    def submit_deferred(self, client):
        """``client`` took a call it will submit later, perhaps from another thread (a flush
        timer's): whose it is (the notebook cell running now) is told by this thread, now, as
        the token returned; plan_submitted finds it with ``deferred_token(self)`` when it is sent."""
        return None

    def native_calling(self, client):
        """A native call is about to make a future; what is returned comes back in native_called."""

    def native_called(self, token, future):
        """The native call made ``future`` (not sent yet: see native_flushed)."""

    def native_flushed(self, client, pending):
        """The native futures ``pending`` were sent (each now has its task)."""

    def waiting(self, client, futures):
        """A native or Rain client is about to block on ``futures`` (core.client.TaskHandles, sent,
        without results yet): a context manager around the wait, or None."""


def add(listener):
    if listener not in listeners:
        listeners.append(listener)


def remove(listener):
    if listener in listeners:
        listeners.remove(listener)


# -- called by the clients (each only when ``listeners`` is not empty)

def client_created(client):
    for listener in listeners:
        listener.client_created(client)


def plan_submitted(client, base, plan, tasks, futures):
    for listener in listeners:
        listener.plan_submitted(client, base, plan, tasks, futures)


def submit_deferred(client):
    """The listeners' tokens of a call taken now and sent later: give them to sending_deferred()."""
    return tuple((listener, listener.submit_deferred(client)) for listener in listeners)


@contextlib.contextmanager
def _on_this_thread(name, value):
    """``_sending.<name>`` is ``value`` for the block, on this thread (nested blocks restore)."""
    previous = getattr(_sending, name, None)
    setattr(_sending, name, value)
    try:
        yield
    finally:
        setattr(_sending, name, previous)


def sending_deferred(tokens):
    """Around the send of calls taken with ``tokens`` (submit_deferred's; None: nothing known):
    the plan_submitted hooks called inside, on this thread, find their own with deferred_token()."""
    return _on_this_thread("tokens", tokens)


def runs_by_deferred(items, tokens_of):
    """``items`` (calls held back) in runs of neighbours with the same submit_deferred tokens:
    a flush sends one plan per run, so each plan is filed under the cell that made its calls."""
    runs = []
    for item in items:
        if runs and same_deferred(tokens_of(runs[-1][0]), tokens_of(item)):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def same_deferred(a, b):
    """Two calls' submit_deferred tokens name the same owners (a notebook cell: the same object)."""
    if a is None or b is None:
        return a is b
    return len(a) == len(b) and all(x[1] is y[1] or x[1] == y[1] for x, y in zip(a, b))


def deferred_token(listener):
    """``listener``'s token of the deferred calls being sent now on this thread, else None."""
    for owner, token in getattr(_sending, "tokens", None) or ():
        if owner is listener:
            return token
    return None


def defers_calls(client):
    """``client`` holds calls back (a flush timer sends them) and sends them on ``send_deferred()``."""
    _deferring.add(client)


def send_deferred():
    """Sends the calls every client holds back, now: a cancel (an interrupt, %treadle stop) that
    came before their timer would miss them, and they would run. A client that cannot send
    keeps its error for the call that waits (as its timer does)."""
    for client in list(_deferring):
        try:
            client.send_deferred()
        except Exception:
            pass


def cancel_deferred(listener, owners, reason):
    """``listener`` cancels what ``owners`` (its submit_deferred tokens: notebook cells) made:
    every client that holds calls back for later ends those of theirs it still holds, as
    cancelled, rather than send them after the cancel (IPython's routed tasks that wait in the
    client for an engine). A client that cannot is left alone."""
    for client in list(_deferring):
        try:
            client.cancel_deferred(listener, owners, reason)
        except Exception:
            pass


def native_sending():
    """Around the native API's send of its own calls: the plan_submitted hooks called inside,
    on this thread, know the plan is those calls (native_flushed tells whose they are), not
    tasks someone submitted through a native client's connection (``%%treadle submit``'s
    HyperLoom tasks go through the default client's)."""
    return _on_this_thread("native", True)


def sending_native_calls():
    """True inside native_sending(), on this thread."""
    return bool(getattr(_sending, "native", False))


def native_calling(client):
    return [listener.native_calling(client) for listener in listeners]


def native_called(tokens, future):
    for listener, token in zip(listeners, tokens):
        listener.native_called(token, future)


def native_flushed(client, pending):
    for listener in listeners:
        listener.native_flushed(client, pending)


def waiting(client, futures):
    stack = contextlib.ExitStack()
    for listener in listeners:
        context = listener.waiting(client, futures)
        if context is not None:
            stack.enter_context(context)
    return stack
