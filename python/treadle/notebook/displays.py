"""Widgets displayed in the running cell and, in a kernel with treadle, followed live: the task
graph (``treadle.show``) recoloured from the progress monitor's thread, and the trace
(``treadle.show_trace``)."""

from IPython.display import display

from ..core.address import server_key
from ..widgets import gantt, graph
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


def show_trace(client=None, window=None, limit=gantt.EVENT_LIMIT):
    """Displays the trace of the server's recent events (``client``: see gantt.trace_view; in a
    kernel with treadle, its server's by default)."""
    if client is None and kernel.session() is not None:
        client = kernel.session().client()
    display(gantt.trace_view(client, window=window, limit=limit).bundle(), raw=True)
