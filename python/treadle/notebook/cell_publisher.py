"""Publishing for a cell from any thread: task output, progress and live widgets are sent from
threads of their own, also after the cell finished, and must land in the cell that started them.

What another thread publishes may come too late to be kept: nbclient (``nbconvert --execute``)
records only the messages of the cell it runs, until that cell's idle, and in xtreadle another
thread's messages travel on a socket of their own, which may deliver after the idle. So the
last picture of each display updated from another thread is sent once more at the end of the
next cell, from the main thread, ahead of that cell's idle (:func:`send_late_updates`): nbclient
applies an update to every output with its display id, whichever cell made it.
"""

import collections
import json
import sys
import threading

from IPython import get_ipython
from IPython.display import update_display


class CellPublisher:
    """Sends IOPub messages (display_data, update_display_data, stream, ...) attached to the
    cell that was running when it was made, from any thread, also after that cell finished.

    In xtreadle it uses the kernel's own thread-safe channel (xeus' publishing is not
    thread-safe); in ipykernel, the kernel's IOPub socket, which is."""

    def __init__(self, send, parent):
        self._send = send
        self.parent = parent

    def publish(self, msg_type, content):
        self._send(msg_type, content, self.parent)

    def terminal(self, text):
        """Text for terminal front ends only (jupyter console): a stream message of the cell's
        session under a request id of its own. Terminals show what their session's requests
        caused and ignore updates of displays; notebooks, JupyterLab and nbclient show only
        the messages of requests they sent, so this never reaches them."""
        parent = dict(self.parent.get("header", self.parent))   # ipykernel's parent is the whole request
        parent["msg_id"] = "{}-terminal".format(parent.get("msg_id", ""))
        self._send("stream", {"name": "stdout", "text": text}, parent)

    def display(self, data, metadata=None, display_id=None, update=False):
        on_main = threading.current_thread() is threading.main_thread()
        with _late_lock:
            if display_id:
                if on_main:
                    _late.pop(display_id, None)
                else:
                    _late[display_id] = (data, metadata)
            if update and display_id and on_main:
                # On the main thread, during a cell, the cell's own path keeps the update ahead
                # of the cell's end: the other threads' channel may deliver after the idle.
                try:
                    update_display(data, raw=True, display_id=display_id, metadata=metadata)
                    return
                except Exception:
                    pass
            transient = {"display_id": display_id} if display_id else {}
            self.publish("update_display_data" if update else "display_data",
                         {"data": data, "metadata": metadata or {}, "transient": transient})


_late_lock = threading.Lock()
_late = collections.OrderedDict()   # display id -> (data, metadata) last published from another thread


def send_late_updates():
    """Sends again, as updates of the running cell, the last picture of every display another
    thread updated since the last call (main thread, at the end of a cell)."""
    with _late_lock:
        late = list(_late.items())
        _late.clear()
        for display_id, (data, metadata) in late:
            try:
                update_display(data, raw=True, display_id=display_id, metadata=metadata)
            except Exception:
                pass


def cell_publisher(shell=None):
    """A CellPublisher for the cell running now: call it on the main thread, during the cell."""
    kernel = sys.modules.get("_treadle_kernel")
    if kernel is not None:
        parent = json.loads(kernel.cell_parent())

        def send(msg_type, content, parent):
            if threading.current_thread() is not threading.main_thread():
                kernel.flush_now()   # what this thread printed goes first (a task's lines, then its open line)
            kernel.publish(msg_type, json.dumps(content), json.dumps(parent))
        return CellPublisher(send, parent)
    if shell is None:
        shell = get_ipython()
    ipk = getattr(shell, "kernel", None)
    if ipk is None or not hasattr(ipk, "iopub_socket"):
        raise RuntimeError("not in a Jupyter kernel")
    # ipykernel before 6 has no get_parent: its parent header has no public name there.
    parent = ipk.get_parent("shell") if hasattr(ipk, "get_parent") else ipk._parent_header  # private-ok: see above

    def send(msg_type, content, parent):
        # The topic ipykernel gives its own IOPub messages (it has no public name for it).
        ipk.session.send(ipk.iopub_socket, msg_type, content, parent=parent,
                         ident=ipk._topic(msg_type))  # private-ok: see above
    return CellPublisher(send, parent)
