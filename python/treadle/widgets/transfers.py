"""The transfer arrows of the trace widget: one by one up to TRANSFER_LIMIT, aggregated above
(per pair of lanes and time slots), and their looks (the script agrees)."""

import math

TRANSFER_LIMIT = 300        # transfers drawn one by one at most; above, aggregated arrows
TRANSFER_SLOTS = 200        # aggregated transfers: the run cut into (at most) this many time slots
TRANSFER_ARROWS = 600       # aggregated arrows sent at most (coarser slots, then the busiest pairs)


def transfer_arrows(items, span):
    """The transfer arrows to draw: (start, end, from lane, to lane, bytes, count, spread of
    the starts, start - first start).

    Up to TRANSFER_LIMIT one by one (count 1). Above, per (sender lane, receiver lane, time
    slot of the start, time slot of the end) one arrow from the mean start to the mean end,
    with the count, the bytes and the spread of the starts; the slots get coarser until at
    most TRANSFER_ARROWS remain, and if the lane pairs alone are more, the busiest are kept. Returns (arrows,
    aggregated, transfers left out)."""
    if len(items) <= TRANSFER_LIMIT:
        return sorted((s, e, a, b, z, 1, 0, 0) for s, e, a, b, z in items), False, 0
    slots = TRANSFER_SLOTS
    width = span / float(slots)
    last = slots - 1
    acc = {}     # (from, to, start slot, end slot) -> [count, bytes, sum of starts, sum of ends,
    #              first start, last start]
    for s, e, a, b, z in items:
        key = (a, b, min(last, int(s / width)), min(last, int(e / width)))
        x = acc.get(key)
        if x is None:
            acc[key] = [1, z, s, e, s, s]
        else:
            x[0] += 1
            x[1] += z
            x[2] += s
            x[3] += e
            if s < x[4]:
                x[4] = s
            if s > x[5]:
                x[5] = s
    while len(acc) > TRANSFER_ARROWS and slots > 1:     # coarser slots: halve
        slots = (slots + 1) // 2
        coarser = {}
        for (a, b, k, m), x in acc.items():
            key = (a, b, k // 2, m // 2)
            y = coarser.get(key)
            if y is None:
                coarser[key] = list(x)
            else:
                y[0] += x[0]
                y[1] += x[1]
                y[2] += x[2]
                y[3] += x[3]
                y[4] = min(y[4], x[4])
                y[5] = max(y[5], x[5])
        acc = coarser
    kept = list(acc.items())
    left_out = 0
    if len(kept) > TRANSFER_ARROWS:
        kept.sort(key=lambda kv: -kv[1][0])
        left_out = sum(x[0] for _, x in kept[TRANSFER_ARROWS:])
        kept = kept[:TRANSFER_ARROWS]
    arrows = []
    for (a, b, _, _), x in kept:
        n = x[0]
        start = int(x[2] / n)
        arrows.append((start, max(start, int(x[3] / n)), a, b, x[1], n, x[5] - x[4], start - x[4]))
    arrows.sort()
    return arrows, True, left_out


def arrow_width(count):
    """Stroke width of an arrow standing for ``count`` transfers (the script agrees)."""
    return 0.8 if count <= 1 else round(min(5.0, 0.8 + 0.6 * math.log2(count)), 1)


def arrow_opacity(width):
    return round(min(0.7, 0.3 + 0.08 * width), 2)
