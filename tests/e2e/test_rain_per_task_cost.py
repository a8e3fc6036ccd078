"""What a Rain task costs beyond a HyperLoom one (bench 9a), on real server and workers: a
``@remote`` function is pickled and sent once, however many times it is called (as HyperLoom's
py_task); a task's one output labelled "output" without a content type goes as HyperLoom's
unnamed output (a declared one costs the submit ~20 µs); the tasks other tasks of the submit
read and nobody keeps are no roots of the plan (they hold nothing: no hold to take and drop);
a session frees the other unkept ones in one message at submit (once done) and the rest in one
at close, not one per task."""

import gc

from treadle.rain.client import Client, Output, blob, remote, tasks


@remote()
def cube(ctx, i):
    return str(i ** 3)


def test_calls_share_one_function_object(make_cluster):
    cluster = make_cluster(workers=2, cpus=1)
    client = Client(*cluster.address)
    try:
        with client.new_session() as session:
            calls = [cube(i) for i in range(200)]
            joined = tasks.Concat(calls)
            joined.output.keep()
            session.submit()
            assert joined.output.fetch().get_bytes() == b"".join(str(i ** 3).encode() for i in range(200))
            # the plan: 200 calls, the Concat and one function object
            assert [count for _, count in session.plans] == [202]
        with client.new_session() as again:   # a later session sends it again, once
            more = tasks.Concat([cube(i) for i in range(3)])
            more.output.keep()
            again.submit()
            assert more.output.fetch().get_bytes() == b"018"
            assert [count for _, count in again.plans] == [5]
    finally:
        client.close()


@remote(outputs=[Output("n", content_type="json")])
def typed(ctx, i):
    return i


def test_default_outputs_go_undeclared_and_sessions_release_at_once(make_cluster):
    cluster = make_cluster(workers=2, cpus=1)
    client = Client(*cluster.address)
    releases = []
    connection = client.core.connection
    original = connection.release
    connection.release = lambda ids, *more: (releases.append(len(ids)), original(ids, *more))   # counts the messages
    try:
        with client.new_session() as session:
            calls = [cube(i) for i in range(50)]
            joined = tasks.Concat(calls + [tasks.Sleep(blob("!"), 0.01)])
            labelled = typed(7)
            alone = cube(99)   # nothing reads it, nobody keeps it
            assert [c.core.outputs for c in calls[:2]] == [None, None] and joined.core.outputs is None
            assert calls[0].output.label == "output" and joined.output.label == "output"
            assert [o.label for o in labelled.core.outputs] == ["n"]   # a label or content type travels
            joined.output.keep()
            labelled.output.keep()
            session.submit()
            assert joined.output.fetch().get_bytes() == b"".join(str(i ** 3).encode() for i in range(50)) + b"!"
            assert labelled.output.fetch().load() == 7
            # the 52 tasks the Concat reads are no roots of the plan: they hold nothing and go
            # once it is done (as a HyperLoom plan's inner tasks); the lone unkept call is a
            # root, released at submit "when done"
            session.wait_all()
            assert releases == [1], releases
            assert client.core.states([calls[0].task_id, alone.task_id]) == ["released", "released"]
        # close frees the kept ones and the two functions' objects, in one message too
        assert releases == [1, 4], releases
    finally:
        connection.release = original
        client.close()


@remote()
def power(ctx, base, exponent=2, note=None):
    return "{}{}".format(base ** exponent, note or "")


def test_a_call_makes_few_objects_and_plain_arguments_travel_as_they_are(make_cluster):
    """A @remote call with plain arguments makes three objects (the garbage collector walks
    each of them again and again while 10,000 calls are made): its arguments' tuple, its core
    task and its Rain task. Its spec, its outputs' LabeledList and their specs are made when
    first asked for, plain calls share the tuple of their inputs (the function), and a Concat
    of calls makes no DataObject for what it reads. Before, a call made 28, then 4."""
    cluster = make_cluster(workers=1, cpus=1)
    client = Client(*cluster.address)
    try:
        with client.new_session() as session:
            power(1)
            gc.collect()
            gc.disable()
            try:
                before = len(gc.get_objects())
                calls = [power(i) for i in range(500)]
                joined = tasks.Concat(calls)
                made = (len(gc.get_objects()) - before) / len(calls)
            finally:
                gc.enable()
            assert made <= 3.05, made
            # keywords, defaults and a spec changed before submit, on the short path too
            named = power(3, exponent=3, note="!")
            named.spec.user["asked"] = True
            joined.output.keep()
            named.output.keep()
            session.submit()
            assert joined.output.fetch().get_bytes() == b"".join(str(i * i).encode() for i in range(500))
            assert named.output.fetch().get_bytes() == b"27!"
            assert named.spec.id == (session.session_id, named.task_id) and named.spec.resources == {"cpus": 1}
            assert [i.id for i in joined.spec.inputs][:2] == [calls[0].output.spec.id, calls[1].output.spec.id]
    finally:
        client.close()


def test_a_submit_makes_no_handle_for_inner_tasks_and_a_fetch_spares_the_close(make_cluster):
    """The tasks a Concat reads hold nothing (inner tasks of the plan): the submit makes no
    handle for them (one is made when asked for), and once the Concat's object was fetched,
    they are known finished, so closing the session asks the server no states."""
    from treadle.core.client import TaskHandle
    cluster = make_cluster(workers=2, cpus=1)
    client = Client(*cluster.address)
    asked = []
    connection = client.core.connection
    original = connection.states
    connection.states = lambda ids: (asked.append(len(ids)), original(ids))[1]
    try:
        with client.new_session() as session:
            calls = [cube(i) for i in range(300)]
            joined = tasks.Concat(calls)
            joined.output.keep()
            before = _count(TaskHandle)
            session.submit()
            made = _count(TaskHandle) - before
            assert made == 2, made   # the Concat's and the function's
            assert joined.output.fetch().get_bytes() == b"".join(str(i ** 3).encode() for i in range(300))
            assert all(t.state == "finished" for t in calls)
            inner = calls[7].handle   # made when asked: names the task, holds nothing
            assert inner.task_id == calls[7].task_id and inner.released()
            assert client.core.states([inner]) == ["released"]
            assert calls[7].output.released and not joined.output.released
            asked.clear()
        assert asked == [], asked
    finally:
        connection.states = original
        client.close()


@remote()
def nap(ctx, seconds):
    import time
    time.sleep(seconds)
    return b"."


def test_a_session_watches_only_what_nothing_of_its_submit_reads(make_cluster):
    """The server tells a watched task's end in a settled message, which costs both sides (5-7
    µs a task in the client): a session watches the tasks nothing of their submit reads, and
    their ends mark the tasks they read finished. A task waited for by itself is watched then,
    or, when it holds nothing the server would watch, its state is asked until it ends."""
    cluster = make_cluster(workers=2, cpus=1)
    client = Client(*cluster.address)
    watched = []
    connection = client.core.connection
    original = connection.watch
    connection.watch = lambda ids: (watched.append(len(ids)), original(ids))
    try:
        with client.new_session() as session:
            calls = [cube(i) for i in range(50)]
            joined = tasks.Concat(calls)
            alone = cube(99)
            joined.output.keep()
            session.submit()
            assert watched == [2], watched            # the Concat and the lone call
            session.wait_all()
            assert all(t.state == "finished" for t in calls + [joined, alone])
            assert joined.output.fetch().get_bytes() == b"".join(str(i ** 3).encode() for i in range(50))
            slow = nap(0.5)
            after = tasks.Sleep(slow, 5)
            session.submit()
            assert watched == [2, 1], watched         # the Sleep
            # an inner task of its plan holds nothing the server would watch: its state is
            # asked until it ends
            slow.wait()
            assert slow.state == "finished" and after.state == "submitted" and watched == [2, 1], watched
            after.wait()
            assert after.state == "finished"
    finally:
        connection.watch = original
        client.close()


def _count(kind):
    return sum(1 for o in gc.get_objects() if isinstance(o, kind))
