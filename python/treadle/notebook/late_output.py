"""What a cell's tasks print after the cell ended, kept in a display the cell made before its end.

Live front ends (Notebook, JupyterLab) show a stream message of an ended cell in that cell, so
late lines used to go as stream messages. nbclient (``nbconvert --execute``, papermill) stops
reading a cell's messages at its end: a saved notebook lost them. It does apply an update of a
display to the output with that display id in whichever cell made it (cell_publisher sends
late updates again at the end of the next cell, where nbclient reads them). So a cell that ends
with tasks still running shows an empty text/plain display last, and the standard output its
tasks print later goes there (update_display_data, the whole text each time): live it reads as
the lines of a stream would, and a saved notebook keeps it in that cell.

Only standard output: standard error stays a stream (front ends colour it), as do lines beyond
``LIMIT`` characters of late text (each update carries all of it). Terminals (jupyter console)
ignore updates: they get each piece as a stream of their own (CellPublisher.terminal).
"""

import uuid

from IPython.display import display

LIMIT = 100000   # characters of late text kept in the display; beyond, a stream as before


class LateOutput:
    """The display of one cell for its tasks' late standard output."""

    def __init__(self, publisher):
        self.publisher = publisher
        self.display_id = "treadle-late-" + uuid.uuid4().hex
        self.text = ""
        # Made now, on the main thread, as the cell's last output before its end (its path).
        display({"text/plain": ""}, raw=True, display_id=self.display_id)

    def add(self, stream, text):
        """Puts ``text`` (marked lines) into the display; False if it does not take it (standard
        error, or past LIMIT): the caller sends it as a stream."""
        if stream != "stdout" or len(self.text) + len(text) > LIMIT:
            return False
        self.text += text
        self.publisher.display({"text/plain": self.text}, display_id=self.display_id, update=True)
        self.publisher.terminal(text)
        return True
