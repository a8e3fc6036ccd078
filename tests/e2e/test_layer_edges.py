"""Where the APIs' layers meet, on a real cluster: an IPython push that cannot be pickled is
refused at run (and a task whose sending failed is failed, never waited for forever);
HyperLoom's gather keeps the healthy futures when one failed; one API's future given to
another is refused by name, never taken as a value; a client of no server is told at once,
in its own API's exception."""

import select
import signal
import socket
import subprocess
import sys
import threading

import cloudpickle
import pytest

import treadle
from treadle.core.errors import LoomException
from treadle.ipython import client as ipc
from treadle.loom.client import Client as LoomClient, TaskFailed, tasks
from treadle.rain.client import Client as RainClient, remote
from treadle.rain.common import RainException
from treadle.scoop import futures, pool

cloudpickle.register_pickle_by_value(sys.modules[__name__])   # the workers cannot import tests/


def square(x):
    return x * x


def add(a, b):
    return a + b


@pytest.fixture
def task_client(cluster):
    tc = ipc.TaskClient(cluster.address)
    yield tc
    tc.close()


@pytest.fixture
def native(cluster):
    c = treadle.Client(cluster)
    yield c
    c.close()


@pytest.fixture
def scoop(cluster, monkeypatch):
    monkeypatch.setenv("TREADLE_ADDRESS", "{}:{}".format(*cluster.address))
    yield futures
    pool.close()


# -- IPython: push ---------------------------------------------------------------------------

def test_an_unpicklable_push_is_refused_at_run_by_its_name(task_client):
    tc = task_client
    ok = tc.run(ipc.Task("import time; time.sleep(0.2); a = 1", pull="a"))
    with pytest.raises(TypeError, match=r"push\['lock'\] cannot be pickled"):
        tc.run(ipc.Task("a = lock", push={"lock": threading.Lock()}, pull="a"))
    tc.barrier(ok)   # the task run before it was not lost with it
    assert tc.get_task_result(ok).ns.a == 1
    assert tc.queue_status() == {"scheduled": 0, "pending": 0, "succeeded": 1, "failed": 0}
    # a push that does pickle, not plain (sent pickled, unpickled on the engine)
    i = tc.run(ipc.Task("b = sorted(s)", push={"s": {3, 1, 2}}, pull="b"))
    assert tc.get_task_result(i, block=True).ns.b == [1, 2, 3]


def test_a_task_whose_sending_failed_is_failed_not_waited_for(task_client, monkeypatch):
    tc = task_client

    def broken(*args, **kwargs):
        raise RuntimeError("the plan could not be sent")
    monkeypatch.setattr(tc.connection, "call", broken)
    i = tc.run(ipc.Task("a = 1", pull="a"))
    for _ in range(2):   # the first wait may send it (and raise), the second must not wait forever
        try:
            tc.barrier(i)
        except RuntimeError:
            pass
    failure = tc.get_task_result(i).failure
    assert isinstance(failure, RuntimeError) and "could not be sent" in str(failure)
    monkeypatch.undo()
    j = tc.run(ipc.Task("a = 2", pull="a"))
    assert tc.get_task_result(j, block=True).ns.a == 2


def test_a_task_whose_outcome_could_not_be_taken_in_is_failed_not_waited_for(task_client, monkeypatch):
    tc = task_client

    def broken(handles):
        raise RuntimeError("the results could not be taken in")
    monkeypatch.setattr(tc.connection, "outcomes", broken)
    i = tc.run(ipc.Task("a = 1", pull="a"))
    with pytest.raises(RuntimeError, match="could not be taken in"):
        tc.barrier(i)
    tc.barrier(i)   # ended: returns (it waited forever for a record that had lost its task)
    assert "could not be taken in" in str(tc.get_task_result(i).failure)
    monkeypatch.undo()
    j = tc.run(ipc.Task("a = 2", pull="a"))
    assert tc.get_task_result(j, block=True).ns.a == 2


# -- HyperLoom: a failed gather ------------------------------------------------------------------

@tasks.py_task()
def refuse_three(a):
    if a.read() == b"3":
        raise ValueError("three is bad")
    return a.read()


def test_a_failed_gather_keeps_the_healthy_futures(client):
    fs = client.submit([refuse_three(tasks.const(str(i))) for i in range(6)])
    with pytest.raises(ValueError) as caught:
        client.gather(fs)
    assert isinstance(caught.value, TaskFailed)
    assert not any(f.released() for f in fs)   # nothing the user did not release
    for i, f in enumerate(fs):
        if i == 3:
            with pytest.raises(ValueError, match="three is bad"):
                f.gather()
            f.release()
        else:
            assert f.gather() == str(i).encode()
    assert all(f.released() for f in fs)


# -- futures of two APIs -------------------------------------------------------------------------

def test_another_apis_future_is_refused_by_name(cluster, native, scoop, task_client):
    nf = native.submit(square, 3)
    sf = scoop.submit(square, 4)
    assert nf.result() == 9 and sf.result() == 16
    for call in (lambda: treadle.gather([nf, sf]), lambda: native.gather([nf, sf]),
                 lambda: treadle.wait([nf, sf]), lambda: list(treadle.as_completed([sf, nf]))):
        with pytest.raises(TypeError, match=r"treadle\.\w+ was given a treadle\.scoop Future .*f\.result\(\)"):
            call()
    for call in (lambda: scoop.wait([nf, sf]), lambda: list(scoop.as_completed([sf, nf]))):
        with pytest.raises(TypeError, match=r"scoop futures\.\w+ was given a treadle Future"):
            call()
    # as a task's argument: said what it is and what to pass (not "cannot pickle Connection")
    with pytest.raises(TypeError, match=r"treadle\.scoop Future .*cannot be sent to a worker.*f\.result\(\)"):
        native.submit(add, sf, 1)
    with pytest.raises(Exception, match=r"treadle Future .*cannot be sent to a worker.*f\.result\(\)"):
        scoop.submit(add, nf, 1)
    with pytest.raises(TypeError, match=r"push\['v'\].*treadle Future .*f\.result\(\)"):
        task_client.run(ipc.Task("y = v + 1", push={"v": nf}, pull="y"))
    lc = LoomClient(*cluster.address)
    try:
        lf = lc.submit_one(tasks.const("x"))
        with pytest.raises(TypeError, match=r"treadle\.loom\.client Future .*f\.fetch\(\)"):
            native.submit(add, lf, 1)
        assert lf.gather() == b"x"
    finally:
        lc.close()
    rc = RainClient(*cluster.address)

    @remote()
    def rsquare(ctx, x):
        return str(x * x)
    with rc.new_session() as session:
        t = rsquare(5)
        t.output.keep()
        session.submit()
        with pytest.raises(TypeError, match=r"treadle\.rain DataObject .*cannot be sent to a worker"):
            native.submit(add, t.output, 1)
        with pytest.raises(RainException, match=r"treadle Future .*f\.result\(\)"):
            rsquare(nf)
        assert t.output.fetch().get_bytes() == b"25"
    # each API's own still works, values passed by value
    assert native.submit(add, sf.result(), 1).result() == 17
    assert scoop.submit(add, nf.result(), 1).result() == 10


# -- no server -------------------------------------------------------------------------------------

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_client_of_no_server_is_told_the_connection_was_refused(monkeypatch):
    # A refused connection is tried again for the connect timeout (a server may be starting):
    # 1 s here, not 10 s for each of the four clients.
    monkeypatch.setenv("TREADLE_CONNECT_TIMEOUT", "1")
    port = _free_port()   # nothing listens there
    with pytest.raises(RainException, match="refused") as caught:
        RainClient("127.0.0.1", port)
    assert "127.0.0.1:{}".format(port) in str(caught.value)
    with pytest.raises(LoomException, match="refused"):
        LoomClient("127.0.0.1", port)
    with pytest.raises(LoomException, match="refused"):
        ipc.TaskClient(("127.0.0.1", port))
    with pytest.raises(LoomException, match="refused"):
        treadle.Client(("127.0.0.1", port))


def test_ctrl_c_ends_the_wait_for_a_server_that_never_answers():
    silent = socket.socket()   # accepts connections, never says a word (no ZeroMQ greeting)
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    accepted, proc = [], None
    try:
        # Ctrl-C as in a terminal: a child of a shell's background job (a loop run with `&`)
        # inherits SIGINT ignored, and Python keeps an inherited SIG_IGN (the test hung then).
        script = ("import signal\n"
                  "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
                  "from treadle.loom.client import Client\n"
                  "try:\n"
                  "    Client('127.0.0.1', {}, timeout=3600)\n"   # an hour: only Ctrl-C ends it
                  "except KeyboardInterrupt:\n"
                  "    print('interrupted')\n").format(silent.getsockname()[1])
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        while len(accepted) < 2:   # the TCP try, then ZeroMQ's connection: the hello waits now
            ready, _, _ = select.select([silent, proc.stdout], [], [])
            if silent in ready:
                accepted.append(silent.accept()[0])
            else:   # its stdout closed: it ended before it connected (an import error, say: its
                # stderr is above), so no wait for connections that cannot come
                pytest.fail("the client exited with {} before it connected ({} of 2 connections)".format(
                    proc.wait(), len(accepted)))
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate()
        assert out.strip() == "interrupted" and proc.returncode == 0
    finally:
        if proc is not None and proc.poll() is None:   # the test failed: end the client it started
            proc.kill()
            proc.wait()
        if proc is not None:
            proc.stdout.close()
        for s in accepted:
            s.close()
        silent.close()
