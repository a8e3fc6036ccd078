"""How the trace widget writes times: durations (µs, ms or s, three digits) and the axis's ticks."""


def nice_step(raw):
    """An axis step near ``raw`` µs: 1, 2 or 5 times a power of ten."""
    raw = max(raw, 1.0)
    magnitude = 10 ** (len(str(int(raw))) - 1)
    for m in (1, 2, 5, 10):
        if raw <= m * magnitude:
            return m * magnitude
    return 10 * magnitude


def axis_time(us):
    """An axis tick: the start is 0, in no unit."""
    return "0" if us == 0 else duration(us)


def duration(us):
    if us < 1000:
        return "{:.0f} µs".format(us)
    if us < 1_000_000:
        return "{:.3g} ms".format(us / 1000.0)
    return "{:.3g} s".format(us / 1e6)
