"""Tab completion of ``%treadle`` lines: sub-commands and options from their declarations
(declare.py), the notebook's names where an option takes names, the options' keys and values."""

from ..notebook.options import options
from . import declare

_MARK = "treadle_matcher"   # the attribute that marks our matcher (install is idempotent)


def install(ipython):
    """Adds the matcher to IPython's completer (its magic_arg_matchers go first, and when they
    match nothing else is offered)."""
    try:
        completer = ipython.Completer
        if not any(getattr(m, _MARK, False) for m in completer.magic_arg_matchers):
            completer.magic_arg_matchers.append(_matcher(completer))
    except Exception:
        pass  # completion is a nicety


def _matcher(completer):
    def treadle_matches(line_buffer):
        try:
            line = completer.text_until_cursor
            token = completer.splitter.split_line(line)
            return completions(line, token, getattr(completer, "namespace", None) or {})
        except Exception:
            return []
    setattr(treadle_matches, _MARK, True)
    return treadle_matches


def _names(namespace, token):
    return sorted(n for n in namespace if not n.startswith("_") and n.isidentifier() and n.startswith(token))


def completions(line, token, namespace=()):
    """Completions of ``token`` (the text being completed) at the end of ``line`` (the line up
    to the cursor), for ``%treadle`` / ``%%treadle`` lines; [] for other lines."""
    stripped = line.lstrip()
    words = stripped.split()
    if not words or words[0] not in ("%treadle", "%%treadle"):
        return []
    cell = words[0] == "%%treadle"
    current = "" if stripped[-1:].isspace() else words[-1]
    done = words[1:] if not current else words[1:-1]
    if len(words) == 1 and current:
        return []  # "%treadle" itself: IPython completes magic names
    if not done:
        commands = declare.cell_commands() if cell else declare.line_commands()
        return sorted(c.name for c in commands if c.name.startswith(token))
    command = declare.COMMANDS.get(done[0])
    if command is None:
        return []
    if command.name == "config":
        key, eq, _ = current.partition("=")
        if eq:
            return [v for v in options.CHOICES.get(key, []) if v.startswith(token)]
        return [k + "=" for k in options.HELP if k.startswith(token)] + (
            ["--reset"] if "--reset".startswith(token) and not done[1:] else [])
    previous = command.option_of(done[-1]) if len(done) > 1 else None
    flag, eq, _ = current.partition("=")
    inline = command.option_of(flag) if eq else None
    if (previous is not None and previous.takes_value) or inline is not None:
        wanted = previous if inline is None else inline
        return _names(namespace, token) if wanted.complete == "names" else []  # else: files and names as usual
    flags = command.option_flags()
    if command.name == "graph" and not current.startswith("-"):   # an expression: the notebook's names
        return _names(namespace, token) + ([f for f in flags if f not in done] if not current else [])
    if current.startswith("-") or not current:
        return [f for f in flags if f.startswith(token) and f not in done]
    return []
