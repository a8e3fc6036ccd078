"""What runs on a worker for every SCOOP future: the constants it was sent with are made
visible to ``shared.getConst``, then the user's function is called."""

from . import shared


def run(fn, constants, *args, **kwargs):
    previous = shared.receive(constants)
    try:
        return fn(*args, **kwargs)
    finally:
        shared.receive(previous)
