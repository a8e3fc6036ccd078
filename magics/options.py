"""``%treadle config``: the kernel's options (treadle.notebook.options)."""

from IPython.core import magic_arguments

from ..notebook.options import options
from . import declare
from .declare import command, option


@command("config")
@magic_arguments.magic_arguments("treadle config")
@option("settings", nargs="*", metavar="KEY=VALUE", help="options to set (else all are shown)")
@option("--reset", action="store_true", help="restore the defaults")
def config(args):
    """%treadle config shows the options, or sets some: auto_workers (auto | N | off: workers the
    first submission starts), cancel_on_interrupt (on | off: an interrupted cell's running tasks
    are cancelled), progress_interval (seconds between progress updates)."""
    this = declare.COMMANDS["config"]
    if args.reset:
        if args.settings:
            raise this.fail("--reset goes alone")
        options.reset()
        print(repr(options))
        return None
    settings = args.settings
    pairs = []
    if len(settings) == 2 and "=" not in settings[0] and "=" not in settings[1]:
        pairs.append((settings[0], settings[1]))  # %treadle config key value
    else:
        for a in settings:
            key, eq, value = a.partition("=")
            if not eq or not key:
                raise this.fail("{!r} is not KEY=VALUE".format(a))
            pairs.append((key, value))
    for key, value in pairs:
        try:
            options.set(key, value)
        except ValueError as e:
            raise this.fail(e) from None
    if pairs:
        print("treadle: " + ", ".join("{} = {}".format(k, options.shown(k)) for k, _ in pairs))
    else:
        print(repr(options))
    return None
