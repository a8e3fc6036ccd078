"""The front-end assets of the widgets (share/widgets: CSS and JavaScript), read once and inlined
into every display: outputs must work without a network, in nbconvert's HTML and in notebooks
reopened without the kernel, so nothing is loaded from elsewhere."""

import functools
import os

try:
    from .. import _build_config
except ImportError:   # the source tree, not installed
    _build_config = None

_HERE = os.path.dirname(os.path.abspath(__file__))


def _candidates():
    override = os.environ.get("TREADLE_WIDGETS_DIR")
    if override:
        yield override
    # Installed: <prefix>/bin (BIN_DIR) and <prefix>/share/treadle/widgets.
    bin_dir = getattr(_build_config, "BIN_DIR", None)
    if bin_dir:
        yield os.path.join(os.path.dirname(bin_dir), "share", "treadle", "widgets")
    # <prefix>/lib/treadle/python/treadle/widgets -> <prefix>/share/treadle/widgets
    yield os.path.normpath(os.path.join(_HERE, "..", "..", "..", "..", "..", "share", "treadle", "widgets"))
    # The source tree: python/treadle/widgets -> share/widgets
    yield os.path.normpath(os.path.join(_HERE, "..", "..", "..", "share", "widgets"))


@functools.lru_cache(maxsize=None)
def directory():
    """The folder holding widgets.css and widgets.js."""
    for folder in _candidates():
        if os.path.isfile(os.path.join(folder, "widgets.js")):
            return folder
    raise FileNotFoundError("cannot find treadle's widget assets (widgets.js): install treadle "
                            "(cmake --install build) or set TREADLE_WIDGETS_DIR")


@functools.lru_cache(maxsize=None)
def read(name):
    with open(os.path.join(directory(), name), encoding="utf-8") as f:
        return f.read()


def css():
    return read("widgets.css")


def js():
    # A "</script>" inside the code would end the inline <script> element early.
    return read("widgets.js").replace("</script", "<\\/script")
