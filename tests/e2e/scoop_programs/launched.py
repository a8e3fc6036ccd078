"""A test program run as users run one (``python3 -m treadle.scoop -n 2 PROGRAM``: the launcher's
server and 2 workers), its stderr cut into the parts it announced with ``=== name``."""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def launch(program, announced):
    """({name: what followed it}, the finished process): ``announced`` is the pattern of a part's
    heading, its name the pattern's one group."""
    done = subprocess.run([sys.executable, "-m", "treadle.scoop", "-n", "2", os.path.join(HERE, program)],
                          capture_output=True, text=True, timeout=200, cwd=os.path.dirname(HERE))
    parts = re.split(announced, done.stderr, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2])), done
