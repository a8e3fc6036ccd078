"""Prints what the workers' environment got from the launcher's --prolog, and on how many workers."""

import os

from treadle.scoop import futures


def environment(_):
    return os.environ.get("TREADLE_PROLOG_MARK"), os.getppid()


if __name__ == "__main__":
    seen = list(futures.map(environment, range(20)))
    print("marks", sorted({mark or "-" for mark, _ in seen}))
