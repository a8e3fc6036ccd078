"""The secret file worker jobs read: how its path is chosen and why it must stay private.

A job runs later, on another host, under the scheduler: the secret cannot travel on a pipe
as it does for ssh workers, and a job's script and environment are readable by the
scheduler's administrators (and its command line by every user of the node). So jobs get
only the *path* of a file that holds the secret, which the worker reads at start: the
per-user file (``~/.local/share/treadle/secret``, made 0600 on first use) or the one named
by ``--secret-file`` / ``$TREADLE_SECRET_FILE``, on the file system the nodes share.
"""

import os
import stat

from .install import default_secret_path, ensure_default_secret

__all__ = ["secret_file_path"]


def secret_file_path(explicit=None):
    """The absolute path of the secret file for worker jobs: ``explicit``, else
    $TREADLE_SECRET_FILE, else the per-user file (created if missing).

    Raises ValueError when the secret is only in $TREADLE_SECRET (jobs cannot be given it
    safely: put it in a 0600 file), and when the file can be read by others than its owner."""
    path = explicit or os.environ.get("TREADLE_SECRET_FILE")
    if not path:
        if os.environ.get("TREADLE_SECRET"):
            raise ValueError("the secret is in $TREADLE_SECRET only: worker jobs read it from a file. Write it to a "
                             "file only you can read (chmod 600) and give it with --secret-file or "
                             "$TREADLE_SECRET_FILE")
        path = default_secret_path()
        ensure_default_secret()
    path = os.path.abspath(os.path.expanduser(path))
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise ValueError("cannot read the secret file {}: {}".format(path, e.strerror)) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ValueError("the secret file {} can be read by other users (mode {:o}): chmod 600 it".format(
            path, stat.S_IMODE(mode)))
    return path
