"""treadle in a notebook: the kernel's session (its server and the workers it started), which
cell submitted which task (``cell_tracker``), publishing to a cell from any thread
(``cell_publisher``), the kernel's options, the progress monitor, and the widgets displayed
and followed live (``displays``). ``kernel`` installs it all in a shell; the magics sit above.
"""
