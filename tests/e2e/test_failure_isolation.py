"""A failing task fails alone: the healthy tasks around it, on the same pipelined executor and
on other workers, give their results (issue 9: a failure used to empty the executor's cache of
unpickled functions while the worker had already sent the next task against it, so healthy
tasks failed with "py_call's first input is 'tuple', which is not callable")."""

import random
import sys

import cloudpickle
import pytest

import treadle
from treadle.loom.client import Client, TaskFailed, tasks

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def inv(x):
    import time
    time.sleep(0.05)
    return 1 / (x - 30)


def fails_when(x, bad):
    if x in bad:
        raise ValueError("bad input {}".format(x))
    return x * 2


def fails_when_str(x, bad):
    return str(fails_when(x, bad))


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two workers of one cpu each: every executor has two tasks in flight."""
    workdir = str(tmp_path_factory.mktemp("workers"))
    with treadle.local_cluster(workers=2, cpus=1, worker_args=["--workdir", workdir]) as c:
        yield c


@pytest.fixture(scope="module")
def native(cluster):
    with treadle.Client(cluster, output=lambda items: None) as c:
        yield c


def outcome(future):
    try:
        return ("ok", future.result())
    except Exception as error:  # noqa: BLE001 - the test looks at which ones failed
        return ("failed", str(error))


def test_the_reported_case_fails_exactly_one_task(native):
    futures = [native.submit(inv, i) for i in range(60)]
    outcomes = [outcome(f) for f in futures]
    failed = [i for i, (kind, _) in enumerate(outcomes) if kind == "failed"]
    assert failed == [30], [outcomes[i] for i in failed]
    assert "ZeroDivisionError" in outcomes[30][1]
    assert [v for kind, v in outcomes if kind == "ok"] == [1 / (i - 30) for i in range(60) if i != 30]


@pytest.mark.timeout(120)
def test_mixed_failures_exact_set_native(native):
    rng = random.Random(9)
    for round_ in range(25):
        n = rng.randint(10, 80)
        bad = frozenset(rng.sample(range(n), rng.randint(1, max(1, n // 4))))
        # A new function object each round: the executors unpickle and cache it afresh.
        fn = (lambda b: lambda x: fails_when(x, b))(bad)
        futures = [native.submit(fn, i) for i in range(n)]
        outcomes = [outcome(f) for f in futures]
        failed = {i for i, (kind, _) in enumerate(outcomes) if kind == "failed"}
        assert failed == set(bad), "round {}: {}".format(round_, [outcomes[i] for i in sorted(failed - bad)])
        for i, (kind, value) in enumerate(outcomes):
            if kind == "ok":
                assert value == i * 2
            else:
                assert "bad input {}".format(i) in value


@pytest.mark.timeout(120)
def test_mixed_failures_exact_set_loom_py_tasks(cluster):
    rng = random.Random(10)
    client = Client(*cluster.address)
    try:
        for round_ in range(15):
            n = rng.randint(10, 60)
            bad = frozenset(rng.sample(range(n), rng.randint(1, max(1, n // 4))))
            fn = tasks.py_value((lambda b: lambda x: fails_when_str(int(x.read()), b))(bad))
            ts = [tasks.py_call(fn, (tasks.const(str(i)),)) for i in range(n)]
            futures = client.submit(ts)
            failed = set()
            for i, f in enumerate(futures):
                try:
                    assert f.gather() == str(i * 2).encode()
                except TaskFailed as error:
                    assert "bad input {}".format(i) in str(error)
                    failed.add(i)
            assert failed == set(bad), "round {}".format(round_)
    finally:
        client.close()


def test_an_input_that_cannot_be_unpickled_fails_only_its_tasks(native, cluster):
    """Unpickling fails on the executor (the class is gone there): the tasks that use that
    object fail, the tasks after them on the same executors do not."""
    class Gone:
        def __reduce__(self):
            return (_raise_on_load, ())

    bad = native.submit(lambda: Gone())
    healthy = [native.submit(lambda x: x + 1, i) for i in range(20)]
    users = [native.submit(lambda g, i: i, bad, i) for i in range(6)]
    more = [native.submit(lambda x: x * 3, i) for i in range(20)]
    assert [f.result() for f in healthy] == [i + 1 for i in range(20)]
    for f in users:
        with pytest.raises(Exception, match="cannot be loaded here"):
            f.result()
    assert [f.result() for f in more] == [i * 3 for i in range(20)]


def _raise_on_load():
    raise RuntimeError("this object cannot be loaded here")
