"""A data scientist's bad day in a notebook (tryout10): what a task raises that Python keeps for
itself, and wrong arguments to the native API's module-level calls. Each fails its own cell
with a clear error; the executors, the kernel and the next cells carry on."""

import re

from conftest import errors, text


def test_a_task_raising_keyboardinterrupt_fails_alone_and_its_executor_stays(any_kernel):
    """A KeyboardInterrupt the task raised is its failure, as SystemExit is: it used to end the
    executor ("killed by signal 2"), with an IPython engine's namespace, and print the executor's
    own frames into the cell."""
    reply, outputs, _ = any_kernel.run("%treadle workers 1")
    assert reply["status"] == "ok", outputs
    reply, outputs, _ = any_kernel.run(
        "import os, treadle\n"
        "def interrupted():\n"
        "    raise KeyboardInterrupt('stop here')\n"
        "before = treadle.submit(os.getpid).result()\n"
        "healthy = [treadle.submit(pow, i, 2) for i in range(4)]\n"
        "try:\n"
        "    treadle.submit(interrupted).result()\n"
        "except treadle.TaskError as error:\n"
        "    print('failed:', str(error).splitlines()[-2])\n"
        "print(treadle.gather(healthy), treadle.submit(os.getpid).result() == before)\n")
    assert reply["status"] == "ok" and not errors(outputs), outputs
    shown = text(outputs) + text(outputs, "stderr")
    assert "failed: KeyboardInterrupt: stop here\n" in shown
    assert "[0, 1, 4, 9] True\n" in shown
    assert "executor.py" not in shown and "killed by signal" not in shown


def test_set_default_client_refuses_what_is_not_a_client(any_kernel):
    """Taken, a wrong value broke every later module-level call of the session with
    AttributeError: 'int' object has no attribute 'core'."""
    reply, outputs, _ = any_kernel.run("import treadle\ntreadle.set_default_client(5)")
    assert reply["status"] == "error"
    [(_, ename, evalue)] = errors(outputs)
    assert ename == "TypeError" and "set_default_client() takes a treadle.Client (or None), not int" in evalue
    reply, outputs, _ = any_kernel.run("print(treadle.gather([treadle.submit(pow, i, 2) for i in range(4)]))")
    assert reply["status"] == "ok" and "[0, 1, 4, 9]\n" in text(outputs), outputs


def test_a_value_where_futures_are_waited_for_is_a_type_error(any_kernel):
    """as_completed and SCOOP's wait/as_completed given a plain value raised AttributeError
    about '__treadle_api__'."""
    reply, outputs, _ = any_kernel.run(
        "import treadle\n"
        "from treadle.scoop import futures\n"
        "for call in (lambda: list(treadle.as_completed([treadle.submit(abs, -1), 1])),\n"
        "             lambda: futures.wait([1]), lambda: list(futures.as_completed(['a']))):\n"
        "    try:\n"
        "        call()\n"
        "    except TypeError as error:\n"
        "        print('TypeError:', error)\n")
    assert reply["status"] == "ok" and not errors(outputs), outputs
    assert re.findall(r"TypeError: (.*)\n", text(outputs)) == [
        "treadle.as_completed takes futures, not int", "scoop futures.wait takes futures, not int",
        "scoop futures.as_completed takes futures, not str"]
