"""Workloads 6a-6c on one cluster, several rounds: CPU per task of every process and thread.

    /usr/bin/python3 bench/system_cpu.py [--shape native|map|loom] [--tasks 10000] [--rounds 5]
                                         [--threads] [--prefix DIR]

Starts a local cluster as bench/run.py does (2 workers of 1 cpu, one executor each), warms
the executors, then runs ``--rounds`` rounds of the workload (``native``: 6b's
``[square(i) ...]``, wait, gather; ``map``: 6c's ``list(client.map(square, ...))``; ``loom``:
6a's py_tasks gathered by an array_make), each round's futures dropped before the next.
For each round it prints the wall time per task and, per process (client, server, workers,
executors), the CPU per task from the scheduler's own counters (``/proc/PID/task/*/schedstat``:
nanoseconds, not the 10 ms ticks bench/run.py reads), its context switches and its read/write
system calls (``/proc/PID/io``) per task; ``--threads`` splits the CPU by thread name
(ZeroMQ's I/O threads, the client's connection, the executor's reply thread). Compare builds
with ``--prefix`` (another worktree's prefix), alternating runs: the machine is shared.
"""

import argparse
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _use_prefix(prefix):
    prefix = os.path.abspath(prefix)
    python = os.path.join(prefix, "lib", "treadle", "python")
    sys.path.insert(0, python)
    os.environ["PATH"] = os.path.join(prefix, "bin") + os.pathsep + os.environ.get("PATH", "")
    os.environ["PYTHONPATH"] = python + os.pathsep + os.environ.get("PYTHONPATH", "")


def square(x):
    return x * x


def loom_square(i):
    return str(i * i).encode()


def warm(i):
    time.sleep(0.05)
    return i


def threads(pid):
    """{(thread name): (cpu ns, context switches)} summed over threads of the same name."""
    out = {}
    for tid in os.listdir("/proc/{}/task".format(pid)):
        base = "/proc/{}/task/{}/".format(pid, tid)
        try:
            with open(base + "comm") as f:
                name = f.read().strip()
            with open(base + "schedstat") as f:
                ns = int(f.read().split()[0])
            with open(base + "status") as f:
                switches = sum(int(line.split()[1]) for line in f if "ctxt_switches:" in line)
        except (OSError, ValueError):
            continue
        if tid == str(pid):
            name = "main"
        a, b = out.get(name, (0, 0))
        out[name] = (a + ns, b + switches)
    return out


def io(pid):
    with open("/proc/{}/io".format(pid)) as f:
        fields = dict(line.split(": ") for line in f.read().splitlines())
    return int(fields["syscr"]), int(fields["syscw"])


def process_ns(pid):
    """All threads' CPU, ended ones included: getrusage for this process (its flush timers are
    threads that end), /proc/PID/stat's ticks (10 ms) for the others."""
    if pid == os.getpid():
        r = resource.getrusage(resource.RUSAGE_SELF)
        return int((r.ru_utime + r.ru_stime) * 1e9)
    with open("/proc/{}/stat".format(pid)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 10 ** 9 // os.sysconf("SC_CLK_TCK")


def snapshot(pids):
    out = {}
    for name, pid in pids.items():
        t = threads(pid)
        if pid == os.getpid():  # threads that ended (flush timers) are only in the process's total
            t["(ended)"] = (process_ns(pid) - sum(v[0] for v in t.values()), 0)
        out[name] = (t, io(pid))
    return out


def difference(before, after, n):
    """{process: (cpu us/task, switches/task, reads/task, writes/task, {thread: cpu us/task})}"""
    out = {}
    for name, (t1, io1) in after.items():
        t0, io0 = before[name]
        per_thread = {k: (v[0] - t0.get(k, (0, 0))[0]) / n / 1000 for k, v in t1.items()}
        switches = sum(v[1] - t0.get(k, (0, 0))[1] for k, v in t1.items())
        out[name] = (sum(per_thread.values()), switches / n, (io1[0] - io0[0]) / n, (io1[1] - io0[1]) / n, per_thread)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=("native", "map", "loom"), default="native")
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", action="store_true")
    parser.add_argument("--prefix", default=os.path.join(os.path.dirname(HERE), "prefix"))
    args = parser.parse_args()
    _use_prefix(args.prefix)
    import psutil
    import treadle
    from treadle.loom.client import Client, tasks

    n = args.tasks
    fn = treadle.task(square)
    loom_fn = tasks.py_task(n_direct_args=1)(loom_square)
    with treadle.local_cluster(workers=2, cpus=1) as cluster:
        client = treadle.Client(cluster, output=None)
        treadle.set_default_client(client)
        warm_fn = treadle.task(warm)
        for _ in range(20):
            client.gather([warm_fn(i) for i in range(4)])
            if all(psutil.Process(w.pid).children() for w in cluster.workers):
                break
        pids = {"client": os.getpid(), "server": cluster.server.pid}
        for i, w in enumerate(cluster.workers):
            pids["worker{}".format(i)] = w.pid
            for j, p in enumerate(psutil.Process(w.pid).children()):
                pids["exec{}{}".format(i, "" if j == 0 else "_{}".format(j))] = p.pid
        loom_client = Client(*cluster.address, output=None) if args.shape == "loom" else None
        rows = []
        for _ in range(args.rounds):
            before = snapshot(pids)
            t0 = time.perf_counter()
            if args.shape == "native":
                futures = [fn(i) for i in range(n)]
                client.wait(futures)
                values = client.gather(futures)
            elif args.shape == "map":
                values = list(client.map(fn, range(n)))
            else:
                root = tasks.array_make([loom_fn(i) for i in range(n)])
                future = loom_client.submit_one(root)
                loom_client.wait([future])
                values = [int(v) for v in loom_client.gather([future])[0]]
            wall = time.perf_counter() - t0
            after = snapshot(pids)
            assert values[-1] == (n - 1) ** 2, values[-4:]
            futures = values = None
            rows.append((wall, difference(before, after, n)))
            time.sleep(0.2)  # releases and frees settle outside the measure
        if loom_client is not None:
            loom_client.close()
        client.close()
    print("{} x {} tasks, load {:.2f}".format(args.shape, n, os.getloadavg()[0]))
    names = list(pids)
    print("wall us | all   | " + " | ".join("{:>7}".format(k) for k in names) + "   (CPU us/task)")
    for wall, d in rows:
        print("{:7.1f} | {:5.1f} | ".format(wall / n * 1e6, sum(v[0] for v in d.values()))
              + " | ".join("{:7.2f}".format(d[k][0]) for k in names))
    print("per task (last round): context switches, reads, writes")
    d = rows[-1][1]
    for k in names:
        print("  {:8} {:6.3f} {:6.3f} {:6.3f}".format(k, d[k][1], d[k][2], d[k][3]))
    if args.threads:
        print("CPU us/task by thread (median over rounds)")
        for k in names:
            per = {}
            for _, d in rows:
                for t, us in d[k][4].items():
                    per.setdefault(t, []).append(us)
            items = sorted(((sorted(v)[len(v) // 2], t) for t, v in per.items()), reverse=True)
            print("  {:8} ".format(k) + ", ".join("{} {:.2f}".format(t, us) for us, t in items if us >= 0.05))


if __name__ == "__main__":
    main()
