"""The kernel's options, which ``%treadle config`` shows and sets."""

import collections
import os

_ON = {"on", "true", "yes", "1"}
_OFF = {"off", "false", "no", "0"}


class Options:
    """treadle's settings in this kernel; ``%treadle config`` shows and sets them."""

    HELP = collections.OrderedDict([
        ("auto_workers", "local workers the first submission starts when none is connected: "
                         "auto (one per core), a number, or off"),
        ("cancel_on_interrupt", "interrupting a cell also cancels the tasks it submitted that still run "
                                "(on/off)"),
        ("progress_interval", "seconds between two updates of a progress line"),
    ])
    CHOICES = {"auto_workers": ["auto", "off", "1", "2", "4", "8"], "cancel_on_interrupt": ["on", "off"],
               "progress_interval": ["0.1", "0.25", "1"]}

    def __init__(self):
        self.reset()

    def reset(self):
        self.auto_workers = "auto"          # "auto", "off" or a positive int
        self.cancel_on_interrupt = True
        self.progress_interval = 0.25

    def auto_worker_count(self):
        if self.auto_workers == "auto":
            return os.cpu_count() or 1
        if self.auto_workers == "off":
            return 0
        return int(self.auto_workers)

    def set(self, key, text):
        """Sets an option from its text; ValueError (one line) when the key or value is wrong."""
        text = str(text).strip()
        low = text.lower()
        if key == "auto_workers":
            if low in ("auto", "off"):
                self.auto_workers = low
            elif low == "0":
                self.auto_workers = "off"
            elif low.isdigit():
                self.auto_workers = int(low)
            else:
                raise ValueError("auto_workers is auto, off or a number of workers, not {!r}".format(text))
        elif key == "cancel_on_interrupt":
            if low in _ON:
                self.cancel_on_interrupt = True
            elif low in _OFF:
                self.cancel_on_interrupt = False
            else:
                raise ValueError("cancel_on_interrupt is on or off, not {!r}".format(text))
        elif key == "progress_interval":
            try:
                value = float(text)
            except ValueError:
                value = -1.0
            if not 0 < value <= 60:
                raise ValueError("progress_interval is a number of seconds (0 to 60], not {!r}".format(text))
            self.progress_interval = value
        else:
            raise ValueError("unknown option {!r}; the options are {}".format(key, ", ".join(self.HELP)))

    def interval(self):
        """Seconds between two updates of a progress line (read each time: it may change)."""
        return self.progress_interval

    def shown(self, key):
        value = getattr(self, key)
        if isinstance(value, bool):
            return "on" if value else "off"
        return str(value)

    def __repr__(self):
        width = max(len("{} = {}".format(k, self.shown(k))) for k in self.HELP)
        lines = ["treadle options (%treadle config KEY=VALUE to change one):"]
        for k, what in self.HELP.items():
            lines.append("  {}  {}".format("{} = {}".format(k, self.shown(k)).ljust(width), what))
        return "\n".join(lines)


options = Options()
