"""Rain's client API on treadle's core (``treadle.rain.client``, ``treadle.rain.common``): Rain
code runs after changing its import lines. Stands on ``treadle.core``, not on ``treadle.loom``."""
