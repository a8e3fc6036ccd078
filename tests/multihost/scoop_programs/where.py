"""Run by python3 -m treadle.scoop in test_scoop_namespaces.py: which network namespace and
which worker ran each future, as one JSON line."""

import json
import os
import time

from treadle.scoop import futures


def where(i):
    time.sleep(0.2)   # long enough that every worker gets some of the futures
    return {"i": i, "netns": os.readlink("/proc/self/ns/net"), "worker": os.getppid()}


if __name__ == "__main__":
    print("RAN " + json.dumps(list(futures.map(where, range(24)))))
