"""A SCOOP program started without ``-m treadle.scoop`` (scoop-usage.txt says programs "need to
be launched with the -m scoop parameter"): SCOOP's ``futures.map`` then warns and falls back to
the built-in serial map (scoop/fallbacks.py), and programs and libraries calling it rely on that;
``submit`` and ``mapReduce`` raise, as SCOOP's do."""

import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def test_map_falls_back_to_the_serial_map_with_one_warning():
    environ = {k: v for k, v in os.environ.items() if k not in ("TREADLE_ADDRESS", "TREADLE_CLUSTER")}
    done = subprocess.run([sys.executable, os.path.join(HERE, "scoop_programs", "without_launcher.py")],
                          capture_output=True, text=True, timeout=60, env=environ, cwd=HERE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["first [1, 2, 3]", "second [8, 9]", "submit refused: NotRunningError"], done.stdout
    assert done.stderr.count("RuntimeWarning: SCOOP was not started properly.") == 1, done.stderr
    assert "replaced by the builtin serial Python map()" in done.stderr
    assert "without_launcher.py:8" in done.stderr   # the warning points at the program's own line
