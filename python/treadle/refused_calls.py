"""Native calls whose input future was cancelled or released before the call was sent.

Such a call cannot run (the server refuses a plan naming a cancelled or released task). It is
refused alone, when its batch is sent: the other calls of the batch go, and its future ends at
once with the error its ``result()`` raises, as a task that failed would. A call that takes a
refused call's future is refused with the same error (as a failure reaches the dependents).
"""

from .core.errors import LoomException, TaskCancelled


class InputCancelled(TaskCancelled):
    """A call's input future was cancelled before the call was sent (a TaskCancelled naming the
    input: ``task_id`` and ``label`` are the input's)."""

    def __init__(self, task_id, reason=None, label=None):
        super().__init__(task_id, reason, label)
        # The server's words for a plan naming a cancelled task, with the input's label.
        self.args = ("input " + str(self.args[0]) + " and cannot be used any more",)


class InputReleased(LoomException, ValueError):
    """A call's input future was released (``release()``, or read by ``map``) before the call
    was sent: its result left the workers. A ValueError, as the API's other misuses."""

    def __init__(self, task_id, label=None):
        self.task_id, self.label = task_id, label
        super().__init__("input task {}{} was released and cannot be used any more (its future's release() "
                         "frees its result)".format(task_id, " ({})".format(label) if label else ""))


def refusal(inputs):
    """The error of a call taking these futures, or None when it can be sent."""
    for future in inputs:
        if future.refused is not None:
            return future.refused
        handle = future.handle
        if handle is not None and handle.released():
            if handle.cancelled():
                return InputCancelled(handle.task_id, handle.cancelled_error().reason, future.key)
            return InputReleased(handle.task_id, future.key)
    return None


def refuse(pending):
    """The calls of ``pending`` that can be sent; the others' futures end with their error.
    In call order, so an input refused in this batch is known before its consumers."""
    sendable = []
    for future in pending:
        error = refusal(future.pending_inputs())
        if error is None:
            sendable.append(future)
        else:
            future.refuse(error)
    return sendable


def raise_first(futures):
    """Raises the error of the first refused future among ``futures``, if any."""
    for future in futures:
        if future.refused is not None:
            raise future.refused.with_traceback(None)   # raised again: no frames piled up


def send_alone(batch, send, error):
    """After the server refused ``batch`` as one plan (``error``): each call is sent alone, in
    call order, so only the calls the server refuses end with its error (a call taking a refused
    one's future ends with that error too). A batch of one is not sent again."""
    if len(batch) == 1:
        batch[0].refuse(error)
        return
    for future in batch:
        refused = refusal(future.pending_inputs())
        if refused is not None:
            future.refuse(refused)
            continue
        try:
            send(future)
        except Exception as alone:   # noqa: BLE001 - the call's own error, raised by its waits
            future.refuse(alone)
