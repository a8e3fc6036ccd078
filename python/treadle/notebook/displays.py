"""Widgets displayed in the running cell and, in a kernel with treadle, followed live: the task
graph (``treadle.show``) recoloured from the progress monitor's thread, and the trace
(``treadle.show_trace``)."""

from IPython.display import display

from .. import api
from ..core import lineage
from ..core.address import server_key
from ..widgets import gantt, graph, task_stream
from ..widgets import states as _states
from . import kernel


def session_connection(server):
    """The kernel's own connection, when ``server`` is the kernel's server (else None)."""
    s = kernel.session()
    if s is not None and server_key(s.address) == server:
        try:
            return s.client().connection
        except Exception:
            return None
    return None


def show(obj, expand=None, aggregate=None, live=True):
    """Displays the task graph of futures or tasks; in a kernel with treadle, its colours
    follow the run until every task ended."""
    view = graph.graph_view(obj, expand=expand, aggregate=aggregate, connection_for=session_connection)
    display_graph(view, live=live)


def display_graph(view, live=True):
    display(view.bundle(), raw=True, display_id=view.dom_id)
    if live and not view.finished():
        follow(view, view.dom_id)


def follow(view, display_id):
    """Recolours the displayed ``view`` as its tasks run (nothing outside a kernel with treadle)."""
    s = kernel.session()
    if s is None or view.graph.conn is None:
        return
    try:
        publisher = kernel.publisher()
    except Exception:
        return
    live = graph.LiveGraph(view, publisher, display_id)
    g = view.graph
    try:
        monitor = s.monitor(g.server or s.address)
        conn = monitor.connection()
        watch = [] if _states.can_ask(conn) else [t for t, st in zip(g.ids, view.states)
                                                   if t is not None and st not in _states.TERMINAL]
        monitor.follow(live, watch)
    except Exception:
        pass


def show_trace(client=None, window=None, limit=gantt.EVENT_LIMIT, live=False):
    """Displays the trace of the server's recent events (``client``: see gantt.trace_view; in a
    kernel with treadle, its server's by default). ``live``: the run going on, redrawn as it runs
    (the kernel's own server only)."""
    s = kernel.session()
    if client is None and s is not None:
        client = s.client()
    if live and s is not None and client is s.client():
        show_live_trace(client)
        return
    display(gantt.trace_view(client, window=window, limit=limit).bundle(), raw=True)


def send_pending_calls():
    """Native calls of this cell may still wait in their batch (a few ms): sent now, so the last
    run is all of them."""
    pending = api.default_client(make=False)   # asking for one would start the automatic workers
    if pending is not None:
        pending.flush()


def show_live_trace(client, submissions=None):
    """The task stream: the trace of the run going on (from the first of ``submissions``, the
    plans of the last cell that submitted), redrawn from the progress monitor's thread until
    every task of those plans ended, then the trace of the whole run. With nothing running,
    the trace of the last run."""
    conn = client.connection
    send_pending_calls()
    here = server_key(kernel.session().address)
    submissions = [x for x in lineage.last_submission() if x.server == here] if submissions is None else submissions
    ranges = [(x.first, x.end) for x in submissions]
    running = task_stream.unfinished(conn, ranges) if ranges else 0
    data = conn.trace(gantt.EVENT_LIMIT)
    if not submissions:
        since = None
    elif running:
        since = task_stream.run_start(data, ranges, min(x.time_us for x in submissions))
    else:
        since = task_stream.submissions_window(data, submissions)[0]
    live = bool(running) and since is not None
    try:
        publisher = kernel.publisher() if live else None
    except Exception:
        publisher, live = None, False
    if since is None:
        view = gantt.TraceView(data, title="trace of the whole session")
    else:
        view = gantt.TraceView(data, window=(since, None), live=live,
                               title="trace of the run (live)" if live else "trace of the last run")
    display(view.bundle(), raw=True, display_id=view.dom_id)
    if live:
        stream = task_stream.LiveTrace(publisher, view.dom_id, since, view.dom_id, ranges=ranges)
        kernel.session().monitor().follow(stream)


def show_last_run(client, submissions):
    """The trace of the last run (the plans ``submissions`` of the last cell that submitted).
    Drawn while that run still goes on, its head says how many tasks are still to run, and it is
    redrawn as the whole run once they ended (from the progress monitor's thread)."""
    conn = client.connection
    left = task_stream.steps_left(conn, kernel.session().address, submissions) or 0
    data = conn.trace(gantt.EVENT_LIMIT)
    view = gantt.TraceView(data, window=task_stream.submissions_window(data, submissions),
                           title="trace of the last run", to_run=left)
    s = kernel.session()
    publisher = None
    if left and s is not None and client is s.client():
        try:
            publisher = kernel.publisher()
        except Exception:
            publisher = None
    display(view.bundle(), raw=True, display_id=view.dom_id if publisher is not None else None)
    if publisher is not None:
        s.monitor().follow(task_stream.RunEnd(publisher, view.dom_id, submissions))
