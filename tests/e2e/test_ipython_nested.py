"""IPython tasks that farm out tasks of their own: inside a task, ``client.TaskClient()`` (and
``default_task_address``) is the cluster the task runs on, and its waits give the task's cpu back,
so a task on the only engine can wait for its subtasks (which run on that engine meanwhile, in its
namespace: docs/ipython.md)."""

import pytest

from treadle.ipython import client

OUTER = """\
from treadle.ipython import client
inner = client.TaskClient()
ids = [inner.run(client.Task("b = %d * 2" % i, pull="b")) for i in range({n})]
inner.barrier(ids)
values = [inner.get_task_result(i).ns.b for i in ids]
"""


@pytest.mark.timeout(90)
def test_a_task_runs_tasks_of_its_own(make_cluster):
    cluster = make_cluster(workers=1, cpus=1)   # one engine: its subtasks run while it waits
    with client.TaskClient(cluster.address) as tc:
        r = tc.get_task_result(tc.run(client.Task(OUTER.format(n=4), pull="values")), block=True)
        assert r.failure is None and r.ns.values == [0, 2, 4, 6]
