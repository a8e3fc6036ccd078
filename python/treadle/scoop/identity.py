"""The name of the worker this code runs on, as ``scoop.worker``: "host:pid" of the treadle
worker (as failures name it), or of this process outside a task (the root)."""

import os
import socket

from ..runtime import task_clients


def current_worker():
    # An executor is a child of its worker: the worker's pid is the one failures name.
    pid = os.getppid() if task_clients.in_executor() else os.getpid()
    return "{}:{}".format(socket.gethostname(), pid)


worker = current_worker()
