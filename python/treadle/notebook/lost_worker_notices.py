"""Tells the notebook's user of the workers the server lost, where the user looks.

The server logs a loss on its stderr: in a kernel that is the kernel's, a terminal the user of a
notebook never sees. So the kernel says it in a cell (docs/kernel.md): in the running cell's
stderr while that cell submits or waits (checked twice a second, and once more as it ends), as a
Dask user sees the client's warnings appear in the cell that runs and an ipyparallel user sees
an engine's death where the results are awaited; a loss while no cell ran waits for the next
cell that submits or waits, or the next ``%treadle status`` or ``%treadle workers``, and says
when it happened. Each loss is told once. The server keeps the last few losses for this
(``lost_workers`` in its status, docs/protocol.md), each numbered, so none is told twice and
one that fell out of its record is still counted."""

import threading
import time


class LostWorkerNotices:
    """Which of the server's losses the user was told of (one per kernel session)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._told = 0   # the number (seq) of the last loss told

    def news(self, status, live_since_us=None):
        """Lines for the losses ``status`` (the server's status answer) names that were not told
        yet, which are told now. A loss before ``live_since_us`` (the server's wall clock, µs:
        the running cell's start), or any without it, may have happened while no cell ran: its
        line says when."""
        losses = status.get("lost_workers") or []
        with self._lock:
            new = [loss for loss in losses if loss["seq"] > self._told]
            if not new:
                return []
            missed = new[0]["seq"] - self._told - 1   # losses the server no longer keeps
            self._told = new[-1]["seq"]
        lines = []
        if missed > 0:
            lines.append("treadle: {} worker{} lost before these".format(missed, "s" if missed != 1 else ""))
        for loss in new:
            earlier = live_since_us is None or loss["time_us"] < live_since_us
            when = " at " + time.strftime("%H:%M:%S", time.localtime(loss["time_us"] / 1e6)) if earlier else ""
            lines.append("treadle: worker {} lost{} ({})".format(loss["name"], when, loss["reason"]))
        return lines
