"""A SCOOP program run as ``python3 without_launcher.py`` (no launcher): map falls back to the
built-in serial map with one RuntimeWarning, as SCOOP's does; submit still refuses."""

from treadle.scoop import futures
from treadle.scoop.pool import NotRunningError

if __name__ == "__main__":
    print("first", list(futures.map(abs, [-1, -2, 3])))
    print("second", list(futures.map(pow, [2, 3], [3, 2])))
    try:
        futures.submit(abs, -1)
    except NotRunningError as error:
        print("submit refused:", type(error).__name__)
