"""What every widget shows: one MIME bundle with

- ``text/html``: a static picture as an ``<img>`` (readable without JavaScript: in nbconvert's
  HTML, in an untrusted notebook), the interactive view as data (``live_part``) that the inline
  script turns into elements, the inline CSS, and the script itself (from share/widgets, never
  a network);
- ``image/svg+xml``: the same static picture, for front ends that do not render HTML;
- ``text/plain``: a one-paragraph summary.
"""

import base64
import html
import itertools
import json
import os

from . import assets

_counter = itertools.count(1)
_token = os.urandom(3).hex()   # ids stay unique across kernels whose outputs share a notebook


def new_id(kind):
    """A DOM id for one display (unique in a notebook)."""
    return "treadle-{}-{}-{}".format(kind, _token, next(_counter))


def attrs(**values):
    """HTML attributes; names use '-' for '_' (data_tasks -> data-tasks); None is left out."""
    out = []
    for k, v in values.items():
        if v is None:
            continue
        out.append(' {}="{}"'.format(k.rstrip("_").replace("_", "-"), html.escape(str(v), quote=True)))
    return "".join(out)


def json_script(payload, cls="treadle-data"):
    """Data for the script, in an element browsers neither render nor run."""
    text = json.dumps(payload, separators=(",", ":")).replace("</", "<\\/")
    return '<script type="application/json" class="{}">{}</script>'.format(cls, text)


def live_part(html_text):
    """The interactive part of a widget (inline SVG, lane names, controls), kept as data that
    only the widget's script turns into elements. Where no script runs, nothing shows that
    pretends to work: HTML sanitizers (an untrusted notebook) drop <script> elements with their
    content, where they keep the text of an <svg> they drop and the buttons; the <img> picture
    stands in."""
    return json_script({"html": html_text}, cls="treadle-live")


def enhance(kind, dom_id):
    """The inline <script>, last child of the widget's root. It finds the root by its id, else
    as its own parent (document.currentScript is not the element itself where the front end
    re-creates scripts, as jQuery does in Notebook 6); until the output is attached it tries
    again a few times."""
    return ("<script>{js}\n;(function(s,id,n){{function go(){{var r=document.getElementById(id);"
            "if(!r&&s&&s.parentNode&&s.parentNode.id===id)r=s.parentNode;"
            "if(r&&window.treadleWidgets)window.treadleWidgets.{kind}(r);else if(n-->0)setTimeout(go,50);}}go();}})"
            "(document.currentScript,{id},100);</script>").format(js=assets.js(), kind=kind, id=json.dumps(dom_id))


def style():
    return "<style>{}</style>".format(assets.css())


def standalone_svg(svg):
    """The inline SVG as an image/svg+xml document."""
    if 'xmlns="http://www.w3.org/2000/svg"' not in svg[:300]:
        svg = svg.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + svg


def static_img(svg, alt):
    """The picture as an <img> (a data: URI): HTML sanitizers (untrusted notebooks) drop inline
    SVG and <style> but keep this; the stylesheet and the script hide it where the inline SVG
    shows."""
    data = base64.b64encode(standalone_svg(svg).encode("utf-8")).decode("ascii")
    return '<img class="treadle-static" alt="{}" src="data:image/svg+xml;base64,{}">'.format(
        html.escape(alt, quote=True), data)


def mime_bundle(text, html_text, svg):
    return {"text/plain": text, "text/html": html_text, "image/svg+xml": standalone_svg(svg)}


class Widget:
    """Base of the displayable widgets: IPython shows ``_repr_mimebundle_``."""

    def bundle(self):
        raise NotImplementedError

    def _repr_mimebundle_(self, include=None, exclude=None):
        return self.bundle()

    def __repr__(self):
        return self.bundle()["text/plain"]
