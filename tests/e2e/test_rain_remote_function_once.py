"""A ``@remote`` function is pickled and sent once, however many times it is called: its calls
share one function object in the plan (as HyperLoom's py_task), so 10,000 calls do not pickle
and run 10,000 copies of it (bench 9a). Real server and workers."""

from treadle.rain.client import Client, remote, tasks


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
