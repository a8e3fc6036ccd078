"""The trace's static picture with each lane's name at its left: the picture of the <img> and
of image/svg+xml (an untrusted notebook, nbconvert without scripts, front ends without HTML),
where no lane labels of HTML stand beside it. The plot itself is gantt.TraceView.svg(), nested."""

import html

LABEL_W = 190               # px of the lane names left of the plot
NAME_CHARS = 28             # a longer lane name is cut, with an ellipsis


def labelled(view, svg, geometry):
    """``svg`` (``view.svg()``, a gantt.TraceView's plot) with its lanes' names at the left;
    ``geometry``: gantt's (ROW, CPU_H, AXIS, STATIC_LANES, STATIC_WIDTH)."""
    ROW, CPU_H, AXIS, STATIC_LANES, STATIC_WIDTH = geometry
    lanes = min(len(view.lane_keys), STATIC_LANES)
    plot_h = (view.lane_tops[lanes - 1] + ROW) if lanes else 0
    width, height = LABEL_W + STATIC_WIDTH, plot_h + AXIS
    out = ['<svg class="treadle-static" xmlns="http://www.w3.org/2000/svg" width="{0}" height="{1}" '
           'viewBox="0 0 {0} {1}" font-family="sans-serif" style="max-width:100%">'.format(width, height),
           '<rect x="0" y="0" width="{}" height="{}" fill="#fafafa"/>'.format(LABEL_W - 4, plot_h)]

    def label(y, text, size, color):
        text = text if len(text) <= NAME_CHARS else text[:NAME_CHARS - 1] + "…"
        out.append('<text x="6" y="{}" font-size="{}" fill="{}">{}</text>'.format(y, size, color, html.escape(text)))
    for strip in view.strips:
        if strip["y"] < plot_h:
            label(strip["y"] + CPU_H - 3, strip["name"] + " · cpu %", 10, "#667")
    for i in range(lanes):
        label(view.lane_tops[i] + ROW - 5, view.lane_names[i], 11, "#222")
    out.append(svg.replace("<svg ", '<svg x="{}" '.format(LABEL_W), 1))
    out.append("</svg>")
    return "".join(out)
