"""A task's line that stays open (a progress bar rewriting it with ``\\r``, a prompt waiting for
its end: core.output_lines' OpenLine) shown in its cell as a display of its own: text/plain
with a display id per line, updated in place (update_display_data) as the task rewrites it,
left with its last text when it ends. A stream holds one open line at a time, so N tasks'
bars in one stream would take turns ending each other's line (the cell grew by N lines per
update); as N displays, each stays one line. nbclient applies the updates to the output with
the display id, so a saved notebook keeps each line's last text (an update published after its
cell ended is sent again at the end of the next cell: cell_publisher.send_late_updates).

Terminals (jupyter console) print a display's text once and ignore its updates: they get the
line's last text as a line of their own when it ends.
"""

from IPython.display import display


def show_line(line, publisher, in_running_cell):
    """Shows ``line`` (an OpenLine) in its cell. ``in_running_cell``: on the main thread, for
    the cell running now: through the cell's own path, in order with what it printed (the
    kernel's stream is flushed before a display). Returns False if it could not be shown (no
    publisher: not in a Jupyter kernel)."""
    if publisher is None:
        return False
    data = {"text/plain": line.text}
    if in_running_cell and line.first:
        display(data, raw=True, display_id=line.id)
    else:   # an update from the main thread goes the cell's own path there, and forgets older pictures
        publisher.display(data, display_id=line.id, update=not line.first)
    if line.ended and not line.first:
        publisher.terminal(line.text + "\n")
    return True
