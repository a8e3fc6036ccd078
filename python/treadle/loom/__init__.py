"""HyperLoom's Python API on treadle: ``from treadle.loom.client import Client, tasks``."""
