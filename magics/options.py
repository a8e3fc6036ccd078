"""``%treadle config``: the kernel's options (treadle.notebook.options)."""

from IPython.core import magic_arguments

from ..notebook.options import options
from . import declare
from .declare import command, option


@command("config")
@magic_arguments.magic_arguments("treadle config")
@option("settings", nargs="*", metavar="KEY=VALUE", help="options to set (else all are shown; a KEY alone shows its value)")
@option("--reset", action="store_true", help="restore the defaults")
def config(args):
    """%treadle config shows the options (KEY alone: that one), or sets some: auto_workers (auto | N | off: workers the
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
    if len(settings) == 1 and "=" not in settings[0]:   # %treadle config key: that key's value
        key = settings[0]
        if key not in options.HELP:
            raise this.fail("unknown option {!r}; the options are {}".format(key, ", ".join(options.HELP)))
        print("treadle: {} = {}".format(key, options.shown(key)))   # as setting it says
        return None
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
