"""``python3 -m treadle.scoop`` (docs/scoop.md): a server and workers started for a program,
which runs as __main__ while every worker imports it under another name."""

import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = os.path.join(HERE, "scoop_programs", "seed_examples.py")


def launch(*args, timeout=200):
    return subprocess.run([sys.executable, "-m", "treadle.scoop"] + list(args), capture_output=True, text=True,
                          timeout=timeout, cwd=HERE)


def test_the_seed_examples_run_with_two_workers():
    done = launch("-n", "2", PROGRAM, "one", "-v")
    assert done.returncode == 7, done.stderr   # the program's own exit status
    lines = done.stdout.splitlines()
    assert "[5, 6, 7, 8, 9, 10, 11, 12, 13, 14]" in lines, done.stdout
    assert "workers 2" in lines, done.stdout + done.stderr
    assert "arguments ['one', '-v']" in lines
    assert "This is a warning!" in done.stderr and "WARNING" in done.stderr


def test_a_missing_program_is_a_clear_error():
    done = launch("-n", "2", os.path.join(HERE, "no_such_program.py"))
    assert done.returncode != 0 and "no program" in done.stderr


def test_the_prolog_is_sourced_before_each_worker_starts(tmp_path):
    ran = tmp_path / "prolog-ran"
    prolog = tmp_path / "prolog.sh"
    prolog.write_text("export TREADLE_PROLOG_MARK=from-prolog\necho $$ >> {}\n".format(ran))
    done = launch("-n", "2", "--prolog", str(prolog), os.path.join(HERE, "scoop_programs", "prolog_env.py"))
    assert done.returncode == 0, done.stderr
    assert "marks ['from-prolog']" in done.stdout.splitlines(), done.stdout
    assert len(ran.read_text().split()) == 2   # once before each of the 2 workers


def test_a_failing_or_missing_prolog_is_a_clear_error(tmp_path):
    program = os.path.join(HERE, "scoop_programs", "prolog_env.py")
    done = launch("-n", "1", "--prolog", str(tmp_path / "missing.sh"), program)
    assert done.returncode == 2 and "the prolog" in done.stderr and "missing.sh" in done.stderr, done.stderr
    prolog = tmp_path / "failing.sh"
    prolog.write_text("false\n")
    done = launch("-n", "1", "--prolog", str(prolog), program)
    assert done.returncode == 2 and "did the prolog" in done.stderr and "failing.sh" in done.stderr, done.stderr


def test_every_worker_line_of_vv_names_its_worker():
    """-vv shows the workers' output: each line names its worker (HOST:PID) from the first one
    on, the executors' start included, so three workers' lines can be told apart."""
    done = launch("-n", "3", "-vv", os.path.join(HERE, "scoop_programs", "prolog_env.py"))
    assert done.returncode == 0, done.stderr
    worker_lines = [line for line in done.stderr.splitlines() if line.startswith("treadle worker")]
    assert worker_lines and all(re.match(r"treadle worker \S+:\d+: ", line) for line in worker_lines), done.stderr
    started = [line.split(":")[1] for line in worker_lines if "Python executor" in line and "started" in line]
    assert len(set(started)) == 3, done.stderr   # one per worker, each under its own pid


def test_the_seeds_broker_hostname_and_e_options_are_accepted():
    """scoop-usage.txt, "Launch in details": ``--broker-hostname`` (SCOOP's older name of
    --external-hostname) and ``-e`` (SCOOP's ssh tunnels, which workers on this machine need not)
    start the program as without them."""
    program = os.path.join(HERE, "scoop_programs", "prolog_env.py")
    done = launch("--broker-hostname", "127.0.0.1", "-e", "-n", "2", program)
    assert done.returncode == 0, done.stderr
    assert "marks ['-']" in done.stdout.splitlines(), done.stdout


def test_a_loopback_external_hostname_with_remote_hosts_names_the_launchers_option():
    """Remote workers cannot reach a loopback address: the message names the launcher's own
    option (not treadle-server's), before anything is started."""
    program = os.path.join(HERE, "scoop_programs", "prolog_env.py")
    for option in ("--broker-hostname", "--external-hostname"):
        done = launch("--host", "192.0.2.7", option, "127.0.0.1", program)
        assert done.returncode == 2, done.stderr
        assert "--external-hostname (or --broker-hostname) 127.0.0.1 is a loopback address" in done.stderr, done.stderr
        assert "treadle-server" not in done.stderr and "192.0.2.7" in done.stderr
    done = launch("--host", "192.0.2.7", "-e", program)
    assert done.returncode == 2 and "-e/--tunnel" in done.stderr and "--external-hostname" in done.stderr, done.stderr
