"""Rain's task context sets treadle's context fields itself (one call less per task, bench 9a):
it must set every one of them, as treadle's own __init__ does."""

from treadle.rain.executor.context import Context as RainContext
from treadle.runtime.task_runtime import Context as CoreContext


def test_the_rain_context_sets_every_field_of_treadles():
    def log(*args):
        pass

    args = (7, log, log, "tcp://h:1", (1, 2))
    core, rain = CoreContext(*args), RainContext(*args)
    for name in CoreContext.__slots__:
        assert getattr(rain, name) == getattr(core, name), name
