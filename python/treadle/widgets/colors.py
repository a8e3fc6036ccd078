"""Colours of label groups: tasks whose labels share the text before the first ':' (Rain's
names: before the first '/') share a colour, in the graph and in the trace alike.

Colours are handed out in the order groups are first seen in this process, so the graph and the
trace of one run agree, and the first groups get well-separated colours. Red means "failed" (the
graph's failed border, a failed progress line), so no group is ever drawn in red or pink: the
palette has none, and hues made beyond it keep out of the red band."""

import threading
import zlib

PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#a0cbe8",
           "#8cd17d", "#d4a6c8", "#499894", "#ffbe7d", "#b6992d", "#86bcb6", "#f1ce63", "#bab0ac"]
RED_BAND = (335, 25)    # hues (degrees) a group never gets: red and pink, kept for failures
NO_GROUP = "#9aa0a6"   # tasks without a label

_assigned = {}
_lock = threading.Lock()


def group_color(group):
    """The colour of a label group (stable for the life of the process)."""
    if not group:
        return NO_GROUP
    with _lock:
        color = _assigned.get(group)
        if color is None:
            n = len(_assigned)
            if n < len(PALETTE):
                color = PALETTE[n]
            else:   # beyond the palette: a hue from the name, always the same, never red
                low, high = RED_BAND[1], RED_BAND[0]
                hue = low + zlib.crc32(group.encode()) % (high - low)
                color = _hsl_hex(hue, 0.55, 0.55)
            _assigned[group] = color
        return color


def _hsl_hex(h, s, l):
    import colorsys
    r, g, b = colorsys.hls_to_rgb(h / 360.0, l, s)
    return "#{:02x}{:02x}{:02x}".format(int(r * 255), int(g * 255), int(b * 255))
