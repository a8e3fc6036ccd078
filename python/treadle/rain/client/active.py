"""Which session new tasks go to: the innermost open ``with session:`` (or ``bind_only()``)
block, else the default session (``new_session(default=True)``)."""

from ..common import RainException

stack = []           # sessions of open with-blocks, innermost last
default = [None]     # the default session, if any


def active_session():
    if stack:
        return stack[-1]
    if default[0] is not None and not default[0].closed:
        return default[0]
    raise RainException("no active session: use 'with client.new_session() as session:' or new_session(default=True)")
