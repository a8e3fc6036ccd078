"""What people type to learn a magic or read a setting (tryout9, finding 11), through real
kernels: ``%treadle CMD --help`` / ``-h`` shows that command's help (as IPython's own magics
do), for line and cell commands alike, and runs nothing; ``%treadle trace --last`` agrees with a
bare ``%treadle trace`` before anything was submitted; ``%treadle config KEY`` shows that key's
value; one local worker is not "1 cpu each"."""

import pytest
from conftest import Kernel, errors, results, text

HELPS = [
    ("%treadle workers --help", "%treadle workers", "--slurm"),
    ("%treadle status -h", "%treadle status", "tasks by state"),
    ("%treadle graph --help", "%treadle graph", "--expand"),
    ("%treadle why -h", "%treadle why", "EXPR"),
    ("%treadle trace --help", "%treadle trace", "--live"),
    ("%treadle config --help", "%treadle config", "--reset"),
    ("%treadle stop --help", "%treadle stop", "cancels every task"),
    ("%%treadle submit --help\nran = 1", "%%treadle submit", "--client"),
    ("%%treadle task -h\nran = 1", "%%treadle task", "--push"),
    ("%treadle submit --help", "%%treadle submit", "--no-wait"),
]


def test_every_command_shows_its_own_help(any_kernel):
    k = any_kernel
    for line, usage, word in HELPS:
        reply, outputs, _ = k.run(line, stop_on_error=False)
        shown = text(outputs)
        assert reply["status"] == "ok" and not errors(outputs) and not text(outputs, "stderr"), (line, outputs)
        assert shown.startswith(usage) and word in shown, (line, shown)
        assert "run task graphs on workers" not in shown, (line, "one command's help, not all of %treadle?")
    # The cells whose first line asked for help did not run.
    reply, outputs, _ = k.run("print('ran' in dir())")
    assert text(outputs) == "False\n", outputs
    # Nothing was started: --help of workers is no request for workers.
    reply, outputs, _ = k.run("%treadle status")
    assert "0 workers" in results(outputs)[0]["text/plain"], outputs


def test_trace_last_agrees_with_trace_before_anything_was_submitted(any_kernel):
    k = any_kernel
    shown = []
    for line in ("%treadle trace", "%treadle trace --last", "%treadle workers 1", "%treadle trace --last"):
        reply, outputs, _ = k.run(line, stop_on_error=False)
        assert reply["status"] == "ok" and not errors(outputs) and not text(outputs, "stderr"), (line, outputs)
        if line.startswith("%treadle trace"):
            shown.append(results(outputs)[0]["text/plain"])
    assert all(s.startswith("trace of the whole session") for s in shown), shown


@pytest.fixture(scope="module")
def one_kernel():
    k = Kernel("treadle")
    yield k
    k.shutdown()


@pytest.fixture
def config_kernel(one_kernel):
    """One treadle kernel for the config tests (a kernel start costs more than they do): they start
    nothing and change only options, which are reset after each."""
    yield one_kernel
    reply, outputs, _ = one_kernel.run("%treadle config --reset")
    assert reply["status"] == "ok", outputs


@pytest.mark.parametrize("key, value", [("auto_workers", "auto"), ("cancel_on_interrupt", "on"),
                                        ("progress_interval", "0.25")])
def test_config_key_alone_shows_its_value(config_kernel, key, value):
    kernel = config_kernel
    reply, outputs, _ = kernel.run("%treadle config " + key)
    assert reply["status"] == "ok" and text(outputs) == "treadle: {} = {}\n".format(key, value), outputs
    reply, outputs, _ = kernel.run("%treadle config {}=off\n%treadle config {}".format(key, key),
                                   stop_on_error=False) if key != "progress_interval" else \
        kernel.run("%treadle config progress_interval=2\n%treadle config progress_interval")
    assert text(outputs).endswith("treadle: {} = {}\n".format(key, "2.0" if key == "progress_interval" else "off")), \
        outputs


def test_config_unknown_key_alone_is_a_one_line_error(config_kernel):
    kernel = config_kernel
    reply, outputs, _ = kernel.run("%treadle config nosuch", stop_on_error=False)
    err = text(outputs, "stderr")
    assert reply["status"] == "error" and "unknown option 'nosuch'" in err and len(err.strip().splitlines()) == 1, \
        outputs


def test_one_local_worker_is_not_each(kernel):
    reply, outputs, _ = kernel.run("%treadle workers 1")
    said = text(outputs)
    assert said.startswith("treadle: started 1 local worker with 1 cpu (pid "), said
    reply, outputs, _ = kernel.run("%treadle workers 2 --cpus 2")
    said = text(outputs)
    assert said.startswith("treadle: started 2 local workers with 2 cpus each (pids "), said
