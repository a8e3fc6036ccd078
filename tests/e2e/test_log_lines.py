"""What the server and workers log reads, on a script's stderr, like treadle's other lines
(engine/common/log.hpp): "treadle worker HOST:PID: ...", "treadle server: worker ... lost (...)",
no epoch timestamp; the verbose mode ($TREADLE_LOG) keeps the log file's form with its time
and level. A script whose local cluster shows its processes' output (quiet=False), one of its
2 workers killed."""

import os
import re
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""\
    import os, signal, sys, time
    import treadle
    from treadle.loom.client import Client

    with treadle.local_cluster(workers=2, cpus=1, quiet=False) as cluster:
        client = Client(*cluster.address)
        victim = cluster.workers[0]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        while len(client.status()["workers"]) != 1:   # the server's line is written by then
            time.sleep(0.02)
        print("killed", victim.pid, flush=True)
        client.close()
    """)
EPOCH_LINE = re.compile(r"^\[\d{9,}\.\d{3} ", re.M)


def run(tmp_path, **environ):
    script = tmp_path / "killing.py"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "TREADLE_LOG"}
    env.update(environ)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and done.stdout.startswith("killed "), done.stderr
    return int(done.stdout.split()[1]), done.stderr


def test_server_and_worker_lines_read_as_treadles_other_messages(tmp_path):
    victim, stderr = run(tmp_path)
    assert not EPOCH_LINE.search(stderr), stderr
    assert re.search(r"^treadle server: worker \S+:{} lost \(connection closed\)$".format(victim), stderr, re.M), stderr
    assert re.search(r"^treadle worker \S+:{}: serving data at ".format(victim), stderr, re.M), stderr
    assert all(line.startswith("treadle") for line in stderr.splitlines()), stderr


def test_the_verbose_mode_keeps_the_time_and_level(tmp_path):
    victim, stderr = run(tmp_path, TREADLE_LOG="info")
    assert re.search(r"^\[\d+\.\d{{3}} server WARN\] worker \S+:{} lost \(connection closed\)$".format(victim),
                     stderr, re.M), stderr
    assert re.search(r"^\[\d+\.\d{{3}} worker \S+:{} INFO\] serving data at ".format(victim), stderr, re.M), stderr
