"""Browser tests: the notebook widgets in Jupyter Notebook 6 and headless Chromium."""
