"""Rain-style workloads (treadle.rain.client) beside the HyperLoom-API figures; run as a child
of bench/run.py:

    python3 bench/workloads_rain.py WORKLOAD [--reps N] [--scale N]

9a rain10k: 10,000 tiny ``@remote`` tasks in one session, their outputs joined by one
``tasks.Concat`` that is kept and fetched, the session closed (the shape of 6a, HyperLoom's
``py_task`` calls gathered by one ``array_make``). 9b rain_execute1k: 1,000 ``tasks.Execute``
with two outputs each, beside 5c, the same programs through the HyperLoom API.
"""

import time

import measure
import workloads_treadle as base
from treadle.rain.client import Client, remote, tasks


@remote()
def rain_square(ctx, i):
    """6a's function, Rain's way: a direct argument in, bytes out."""
    return str(i * i).encode()


def _timed_rain(run, n, build, expect):
    """Builds a session's graph with ``build(n)`` (returns the kept object), submits it,
    fetches the kept object, closes the session; the phases of one run."""
    client = Client(*run.cluster.address)
    try:
        run.start()
        t0 = time.perf_counter()
        session = client.new_session(name="bench")
        with session:
            kept = build(n)
            t1 = time.perf_counter()
            session.submit()
            t2 = time.perf_counter()
            value = kept.fetch().get_bytes()
            t3 = time.perf_counter()
        t4 = time.perf_counter()
        base._submit_seconds()
        encode = base._encode_seconds()
        out = {"build_s": t1 - t0, "client_s": t2 - t0, "encode_s": encode, "send_s": t2 - t1 - encode,
               "wait_s": t3 - t2, "close_s": t4 - t3}
        run.finish(out, t4 - t0, n)
    finally:
        client.close()
    expect(value)
    out["us_per_task"] = out["total_s"] / n * 1e6
    out["tasks_per_s"] = n / out["total_s"]
    return out


def rain10k(n=10_000):
    """9a: n ``@remote`` calls joined by one Concat, kept and fetched (Rain's API)."""
    def build(n):
        joined = tasks.Concat([rain_square(i) for i in range(n)])
        joined.output.keep()
        return joined.output

    def expect(value):
        assert value == b"".join(str(i * i).encode() for i in range(n)), value[:20]
    with base._PyRun() as run:
        return _timed_rain(run, n, build, expect)


def rain_execute1k(n=1_000):
    """9b: n ``tasks.Execute`` with two outputs each (a file the program writes and its
    standard output: ``tee copy`` of a small constant), the file outputs joined by a Concat
    that is kept and fetched. Its HyperLoom-API twin is 5c (run1k_two_outputs)."""
    from treadle.rain.client import blob

    def build(n):
        runs = [tasks.Execute("tee copy", stdin=blob(b"%d," % i), stdout="out", output_paths=["copy"])
                for i in range(n)]
        joined = tasks.Concat([t.outputs["copy"] for t in runs])
        joined.output.keep()
        return joined.output

    def expect(value):
        assert value == b"".join(b"%d," % i for i in range(n)), value[:20]
    with base._PyRun() as run:
        return _timed_rain(run, n, build, expect)


WORKLOADS = {
    "rain10k": rain10k,
    "rain_execute1k": rain_execute1k,
}

if __name__ == "__main__":
    measure.child_main(WORKLOADS)
