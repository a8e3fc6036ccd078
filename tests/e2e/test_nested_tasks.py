"""Tasks that submit tasks (docs/python-tasks.md, "Tasks that submit tasks").

Inside a task, treadle's APIs talk to the cluster the task runs on: no server or worker is
started by them, and what a task submitted is released when it ends. Real server, workers and
executors on 127.0.0.1; processes are counted, not assumed.
"""

import sys

import cloudpickle
import psutil
import pytest

import treadle
from tests.conftest import wait_until
from treadle.loom.client import Client, tasks

# Functions of this module travel by value: the executors cannot import the test module.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def descendants_of(cluster):
    """Every live process under the cluster's server and workers (executors, what tasks start)."""
    out = []
    for root in [cluster.server] + list(cluster.workers):
        try:
            for p in psutil.Process(root.pid).children(recursive=True):
                if p.status() != psutil.STATUS_ZOMBIE:
                    out.append(p)
        except psutil.Error:
            pass
    return out


def command_lines(procs):
    lines = []
    for p in procs:
        try:
            lines.append(" ".join(p.cmdline()))
        except psutil.Error:
            pass
    return lines


def assert_only_executors(cluster, cpus_per_worker):
    """Below the cluster there are Python executors and nothing else (no nested cluster): at
    most one per cpu of each worker."""
    lines = command_lines(descendants_of(cluster))
    assert all("treadle.executor" in line for line in lines), lines
    assert len(lines) <= cpus_per_worker * len(cluster.workers), lines


def clients_connected(client):
    return client.status()["clients"]


# -- task functions --------------------------------------------------------------------------

def double(x):
    print("doubling", x)
    return 2 * x


def sum_of_doubles(n):
    import treadle
    return sum(treadle.gather([treadle.submit(double, i) for i in range(n)]))


def nested_twice(n):
    import treadle
    return treadle.submit(sum_of_doubles, n).result() + 1


def which_server():
    import treadle
    return treadle.default_client().address


def submit_and_leave(seconds):
    """Submits a slow task and ends without waiting for it."""
    import treadle
    import time
    treadle.submit(time.sleep, seconds)
    treadle.default_client().flush()
    return "left"


# -- talking to the task's own cluster -----------------------------------------------------------

@pytest.fixture(scope="module")
def roomy(tmp_path_factory):
    """One worker with cpus enough for every level of the nesting below."""
    with treadle.local_cluster(workers=1, cpus=4, worker_args=["--workdir", str(tmp_path_factory.mktemp("w"))]) as c:
        yield c


@pytest.fixture
def roomy_client(roomy):
    out = []
    c = treadle.Client(roomy, output=out.extend)
    c.output = out
    yield c
    c.close()


def test_submit_inside_a_task_uses_the_cluster_the_task_runs_on(roomy, roomy_client):
    assert roomy_client.submit(sum_of_doubles, 3).result() == 6
    assert tuple(roomy_client.submit(which_server).result()) == tuple(roomy.address)
    assert_only_executors(roomy, cpus_per_worker=4)


def test_two_levels_of_nesting_start_no_process(roomy, roomy_client):
    assert roomy_client.submit(nested_twice, 2).result() == 3
    assert_only_executors(roomy, cpus_per_worker=4)
    # Output of the nested tasks goes the normal way: through the task that submitted them.
    wait_until(lambda: any(b"doubling 1" in item[3] for item in roomy_client.output), what="the nested output")


def test_a_tasks_clients_are_closed_and_its_work_released_when_it_ends(roomy, roomy_client):
    before = clients_connected(roomy_client)
    assert roomy_client.submit(submit_and_leave, 30).result() == "left"
    # The task's own client said goodbye, which released (and so cancelled) its sleeping child.
    # Its bye is seen at once; were it lost (a loaded machine), the closed connection is within
    # the server's client timeout (15 s).
    wait_until(lambda: clients_connected(roomy_client) <= before, timeout=30, what="the nested client closing")
    wait_until(lambda: roomy_client.status()["states"]["running"] == 0, what="the orphan being cancelled")


def test_loom_client_inside_a_task_without_an_address(roomy, roomy_client):
    def loom_inside():
        from treadle.loom.client import Client, tasks
        client = Client()
        return client.submit_one(tasks.merge((tasks.const("a"), tasks.const("b")))).gather()

    assert roomy_client.submit(loom_inside).result() == b"ab"


def test_secret_reaches_tasks_only_through_the_executor(roomy, roomy_client):
    """A client inside a task authenticates with the secret its worker handed the executor,
    not with the environment (which a task can read)."""
    def env_secret_then_submit():
        import os
        import treadle
        saved = dict(os.environ)
        os.environ.pop("TREADLE_SECRET", None)
        os.environ["TREADLE_SECRET_FILE"] = "/nonexistent/secret"
        try:
            return treadle.submit(abs, -5).result()
        finally:
            os.environ.clear()
            os.environ.update(saved)

    assert roomy_client.submit(env_secret_then_submit).result() == 5


# -- waiting gives the cpu back (secede / rejoin) -----------------------------------------------

def fib(n):
    import treadle
    if n < 2:
        return n
    a, b = treadle.gather([treadle.submit(fib, n - 1), treadle.submit(fib, n - 2)])
    return a + b


def tree(depth, width):
    """SCOOP's tree examples: every node maps over its children."""
    import treadle
    if depth == 0:
        return 1
    return 1 + sum(treadle.map(tree, [depth - 1] * width, [width] * width))


def fails_below(n):
    import treadle
    return treadle.submit(lambda x: 1 / x, n).result()


def catches_below():
    import treadle
    try:
        treadle.submit(lambda x: 1 / x, 0).result()
    except (ZeroDivisionError, treadle.TaskError) as error:
        return "caught: {!r}".format(error)
    return "not raised"


@pytest.fixture(scope="module")
def tight(tmp_path_factory):
    """2 workers x 1 cpu: every cpu soon holds a task that waits on tasks it submitted."""
    with treadle.local_cluster(workers=2, cpus=1, worker_args=["--workdir", str(tmp_path_factory.mktemp("w"))]) as c:
        yield c


@pytest.fixture
def tight_client(tight):
    out = []
    c = treadle.Client(tight, output=out.extend)
    c.output = out
    yield c
    c.close()
    settled(tight, c)


def settled(cluster, client):
    """After a test: every nested client closed, every cpu free again, only executors below."""
    with treadle.loom.client.Client(*cluster.address) as probe:
        wait_until(lambda: probe.status()["clients"] == 1, timeout=30, what="the nested clients closing")
        wait_until(lambda: all(w["free_cpus"] == w["cpus"] for w in probe.status()["workers"]),
                   what="every cpu free again")
    assert_only_executors(cluster, cpus_per_worker=1)


@pytest.mark.timeout(90)
def test_recursive_fib_on_two_one_cpu_workers(tight, tight_client):
    assert tight_client.submit(fib, 11).result() == 89
    assert_only_executors(tight, cpus_per_worker=1)


def test_two_levels_of_nesting_on_one_cpu_each(tight, tight_client):
    assert tight_client.submit(nested_twice, 3).result() == 1 + 2 * (0 + 1 + 2)
    futures = [tight_client.submit(nested_twice, 2) for _ in range(4)]  # more than the cpus
    assert tight_client.gather(futures) == [3] * 4


@pytest.mark.timeout(90)
def test_scoop_like_tree_of_maps(tight, tight_client):
    assert tight_client.submit(tree, 3, 3).result() == 1 + 3 + 9 + 27


def test_loom_client_inside_tasks_holding_every_cpu(tight):
    """Every cpu holds a py_task whose HyperLoom client submits a sub-plan needing a cpu."""
    @tasks.py_task()
    def outer(host, port, word):
        from treadle.loom.client import Client, tasks

        @tasks.py_task()
        def inner(w):
            return w.read().upper()

        client = Client(host.read().decode(), int(port.read()))
        try:
            return client.submit_one(inner(tasks.const(word.read()))).gather()
        finally:
            client.close()

    host, port = tight.address
    with Client(*tight.address, output=None) as c:
        plan = [outer(tasks.const(host), tasks.const(str(port)), tasks.const("w{}".format(i))) for i in range(4)]
        assert c.gather(c.submit(plan)) == [b"W0", b"W1", b"W2", b"W3"]
    settled(tight, None)


def test_a_nested_failure_raises_in_its_parent_and_reaches_the_user(tight, tight_client):
    with pytest.raises(treadle.TaskError) as raised:
        tight_client.submit(fails_below, 0).result()
    assert "ZeroDivisionError" in str(raised.value)
    assert tight_client.submit(fails_below, 4).result() == 0.25  # the cluster goes on
    assert "ZeroDivisionError" in tight_client.submit(catches_below).result()


@pytest.mark.timeout(150)
def test_a_worker_killed_mid_tree_still_gives_the_right_result(make_cluster):
    cluster = make_cluster(workers=3, cpus=1)

    def slow_fib(n):
        import time
        import treadle
        if n < 2:
            time.sleep(0.05)
            return n
        a, b = treadle.gather([treadle.submit(slow_fib, n - 1), treadle.submit(slow_fib, n - 2)])
        return a + b

    with treadle.Client(cluster, output=None) as client:
        result = client.submit(slow_fib, 10)
        probe = client.core
        wait_until(lambda: sum(w["tasks_done"] for w in probe.status()["workers"]) >= 20, timeout=60,
                   what="the tree under way")
        victim = cluster.workers[1]
        executors = [p for p in psutil.Process(victim.pid).children() if "treadle.executor" in " ".join(p.cmdline())]
        victim.send_signal(9)
        victim.wait()
        assert result.result() == 55
        # Its executors went with it, the tasks waiting in them included.
        psutil.wait_procs(executors, timeout=10)
        assert not [p for p in executors if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_a_thread_started_by_a_task_uses_the_tasks_cluster(roomy, roomy_client):
    def from_a_thread():
        import concurrent.futures
        import treadle
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            return sum(pool.map(lambda i: treadle.submit(abs, -i).result(), range(4)))

    assert roomy_client.submit(from_a_thread).result() == 6
    assert_only_executors(roomy, cpus_per_worker=4)


def test_explicit_secede_and_rejoin(tight, tight_client, tmp_path):
    """As Dask's: a task waiting on something other than futures gives its cpu back by hand."""
    def waits_for_its_child(path):
        import os
        import time
        import treadle
        child = treadle.submit(lambda p: open(p, "w").close(), path)  # needs a cpu
        treadle.default_client().flush()
        treadle.secede()
        while not os.path.exists(path):
            time.sleep(0.01)
        treadle.rejoin()
        child.result()
        return "done"

    paths = [str(tmp_path / "flag{}".format(i)) for i in range(3)]  # more waiting tasks than cpus
    assert tight_client.gather([tight_client.submit(waits_for_its_child, p) for p in paths]) == ["done"] * 3


def test_cancelling_a_waiting_task_leaves_its_executors_other_tasks_alone(make_cluster, tmp_path):
    """Two tasks of two clients wait (seceded) in the one executor of a 1-cpu worker; one client
    leaves, which cancels its task. The executor is not replaced for it: the other task is not
    run again (in a tree of nested tasks, each re-run cancelled more, every client timeout)."""
    cluster = make_cluster(workers=1, cpus=1)

    def waits_for(flag, log):
        import os
        import time
        import treadle
        with open(log, "a") as f:
            f.write("started in {}\n".format(os.getpid()))
        treadle.secede()
        while not os.path.exists(flag):
            time.sleep(0.02)
        treadle.rejoin()
        return "done"

    flag_a, flag_b = str(tmp_path / "a"), str(tmp_path / "b")
    log_a, log_b = tmp_path / "a.log", tmp_path / "b.log"
    with treadle.Client(cluster, output=None) as keeper:
        b = keeper.submit(waits_for, flag_b, str(log_b))
        leaver = treadle.Client(cluster, output=None)
        a = leaver.submit(waits_for, flag_a, str(log_a))  # noqa: F841 (held: the leaving client holds it)
        leaver.flush()
        wait_until(lambda: all(log.exists() and log.read_text().endswith("\n") for log in (log_a, log_b)),
                   what="both tasks started in the executor")
        assert log_a.read_text().split()[-1] == log_b.read_text().split()[-1]   # the same executor
        wait_until(lambda: keeper.status()["workers"][0]["free_cpus"] == 1, what="both seceded (the cpu free)")
        leaver.close()   # its task is cancelled
        wait_until(lambda: keeper.status()["clients"] == 1, what="the leaving client gone")
        wait_until(lambda: keeper.status()["states"]["running"] + keeper.status()["states"]["assigned"] == 1,
                   what="the leaver's task cancelled")
        open(flag_b, "w").close()
        assert b.result(timeout=30) == "done"
        assert log_b.read_text().count("started") == 1, log_b.read_text()
        open(flag_a, "w").close()   # the abandoned thread ends too
