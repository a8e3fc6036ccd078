"""What a Rain task costs beyond a HyperLoom one (bench 9a), on real server and workers: a
``@remote`` function is pickled and sent once, however many times it is called (as HyperLoom's
py_task); a task's one output labelled "output" without a content type goes as HyperLoom's
unnamed output (a declared one costs the submit ~20 µs); a session frees its tasks in one
message at submit (those nobody kept, once done) and one at close, not one per task."""

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
            assert [c.core.outputs for c in calls[:2]] == [None, None] and joined.core.outputs is None
            assert calls[0].output.label == "output" and joined.output.label == "output"
            assert [o.label for o in labelled.core.outputs] == ["n"]   # a label or content type travels
            joined.output.keep()
            labelled.output.keep()
            session.submit()
            assert joined.output.fetch().get_bytes() == b"".join(str(i ** 3).encode() for i in range(50)) + b"!"
            assert labelled.output.fetch().load() == 7
            # the 52 outputs nobody kept go once done, asked for at submit in one message
            session.wait_all()
            assert releases == [52], releases
        # close frees the kept ones and the two functions' objects, in one message too
        assert releases == [52, 4], releases
    finally:
        connection.release = original
        client.close()
