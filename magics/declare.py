"""How a ``%treadle`` command is declared: once, with IPython's ``magic_arguments`` (as
ipyparallel's ``%px`` magics are), so its usage line, its part of ``%treadle?``, its error
messages and its completion all come from that one declaration.

    @command("workers")
    @magic_arguments.magic_arguments("treadle workers")
    @option("count", nargs="?", metavar="N", type=positive, help="...")
    @option("--cpus", type=positive, default=1, metavar="C", help="...")
    def workers(args):
        "What the command does (its help)."

``command(name, cell=True)`` declares a cell magic (``%%treadle name``).
"""

import argparse
import difflib
import re
import shlex

from IPython.core import magic_arguments
from IPython.core.error import UsageError

COMMANDS = {}   # name -> Command, in the order declared


class option(magic_arguments.argument):
    """``magic_arguments.argument``, which also says what completes its value: "names" (the
    notebook's names, comma separated) or None."""

    def __init__(self, *flags, complete=None, **kwargs):
        super().__init__(*flags, **kwargs)
        self.flags = [f for f in flags if f.startswith("-")]
        self.complete = complete
        self.takes_value = kwargs.get("action") not in ("store_true", "store_false")


class HelpAsked(Exception):
    """``CMD -h`` / ``CMD --help``: the command's help is shown, nothing is run."""


class _ShowHelp(argparse.Action):
    """-h / --help of every command. argparse's own would print and exit the process; IPython's
    magic_arguments leave it out (add_help=False), so ``CMD --help``, what people type, was an
    unrecognized argument."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    def __call__(self, parser, namespace, values, option_string=None):
        raise HelpAsked()   # as it is met: before a missing required argument is reported


class Command:
    def __init__(self, name, fn, cell):
        self.name = name
        self.fn = fn
        self.cell = cell
        self.parser = fn.parser
        self.parser.allow_abbrev = False   # an option is written whole, never guessed
        self.parser.add_argument("-h", "--help", action=_ShowHelp)   # hidden: %treadle? would repeat it per command
        self.options = [d for d in fn.decorators if isinstance(d, option) and d.flags]

    @property
    def magic(self):
        return ("%%treadle " if self.cell else "%treadle ") + self.name

    def usage(self):
        """The usage line (one line), from the parser."""
        text = " ".join(self.parser.format_usage().split())
        return "usage: %" + text.split("%", 1)[1] if "%" in text else text

    def help(self):
        """The command's part of ``%treadle?``: usage, what it does, its options."""
        return self.parser.format_help().replace("::\n\n  %", "%", 1)

    def parse(self, argv):
        """The arguments of ``argv``; a one-line UsageError that ends with the usage (and, for
        a mistyped option, the option meant); HelpAsked for -h / --help."""
        try:
            return self.parser.parse_args(argv)
        except HelpAsked:
            raise
        except UsageError as e:
            hint = ""
            unknown = re.match(r"unrecognized arguments: (\S+)", str(e))
            if unknown and unknown.group(1).startswith("-"):
                hint = did_you_mean(unknown.group(1).split("=")[0], self.option_flags())
            raise UsageError("{}{}; {}".format(e, hint, self.usage())) from None

    @property
    def takes_expressions(self):
        """Whether its positional words are a Python expression (their quotes belong to it)."""
        return any(isinstance(d, option) and d.args[:1] == ("expr",) for d in self.fn.decorators)

    def fail(self, message=None):
        """A one-line UsageError: ``message`` (if any), then the usage."""
        return UsageError("{}; {}".format(message, self.usage()) if message else self.usage())

    def option_flags(self):
        return [f for o in self.options for f in o.flags]

    def option_of(self, flag):
        for o in self.options:
            if flag in o.flags:
                return o
        return None


def command(name, cell=False):
    """Declares the magic_arguments-decorated function below as ``%treadle name``."""
    def declare(fn):
        COMMANDS[name] = Command(name, fn, cell)
        return fn
    return declare


def line_commands():
    return [c for c in COMMANDS.values() if not c.cell]


def cell_commands():
    return [c for c in COMMANDS.values() if c.cell]


def usage():
    return ("usage: " + " | ".join(c.magic for c in COMMANDS.values()) + "   (%treadle? for help)")


def did_you_mean(word, choices):
    """", did you mean 'x'?" for the closest of ``choices`` to a mistyped ``word``, else ""."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return ", did you mean {!r}?".format(close[0]) if close else ""


def split(line):
    """The words of a magic's line, as a shell would split them (a one-line UsageError if it cannot)."""
    try:
        return shlex.split(line)
    except ValueError as e:
        raise UsageError("{}; {}".format(e, usage())) from None


def split_keeping_expressions(command, line):
    """The words of ``line`` (the command's arguments) for a command that takes Python
    expressions (``%treadle why d['k']``): the words of the expression keep their quotes, as
    Python needs them; options and their values are split as a shell would."""
    lexer = shlex.shlex(line, posix=False)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        words = list(lexer)
    except ValueError as e:
        raise UsageError("{}; {}".format(e, command.usage())) from None
    argv, value_next = [], False
    for word in words:
        if value_next or word.startswith("-"):
            option_ = command.option_of(word.split("=", 1)[0]) if word.startswith("-") else None
            value_next = bool(option_ and option_.takes_value and "=" not in word)
            argv.extend(split(word))
        else:
            argv.append(word)
    return argv


# -- value types (their errors become the UsageError's text) ----------------------------------------

def positive(text):
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError("must be a positive integer, not {!r}".format(text))
    return n


def count(text):
    if not text.isdigit():
        raise argparse.ArgumentTypeError("must be a number (0 or more), not {!r}".format(text))
    return int(text)


def names(text):
    found = [n.strip() for n in text.split(",") if n.strip()]
    if not found or any(not n.isidentifier() for n in found):
        raise argparse.ArgumentTypeError("takes names separated by commas, not {!r}".format(text))
    return found


def one_line(text):
    """The first line of an error's text, with the line after it when it ends announcing one
    ("sbatch ... failed (exit code 1):" says nothing without sbatch's own reason)."""
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    if not lines:
        return str(text)
    if lines[0].endswith(":") and len(lines) > 1:
        return lines[0] + " " + lines[1]
    return lines[0]


def plural(n):
    return "" if n == 1 else "s"
