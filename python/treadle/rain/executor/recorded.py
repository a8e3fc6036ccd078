"""What the producers of a task's inputs recorded when they ran: a @remote task may set its
output's content type then (a DataInstance it returns, a str for an untyped output), and the
tasks that read the object see that type, as in Rain. The producer recorded it with the server
(``task_info``); the consumer asks the server for it, in one request per task, and only for
inputs made by @remote tasks (``InputPlan.typed_at_run_time``): other tasks pay nothing."""

import json
import threading

from ...core.task import OUTPUT_SHIFT, TASK_MASK
from ...runtime import task_clients

_STORY_IDS_PER_REQUEST = 1000   # the server's limit (docs/protocol.md, story)
_server = {"connection": None}
_lock = threading.Lock()


def recorded_outputs(core_ctx, plans):
    """Per input (one per plan), what its producer recorded of it ({"content_type", "user"}),
    or None: nothing recorded, or nothing to ask."""
    made = [None] * len(plans)
    ids = core_ctx.input_ids   # every input's object id, the function's first
    wanted = {k: ids[k + 1] for k, plan in enumerate(plans) if plan.typed_at_run_time and k + 1 < len(ids)}
    if not wanted:
        return made
    tasks = sorted({object_id & TASK_MASK for object_id in wanted.values()})
    recorded = {}
    for start in range(0, len(tasks), _STORY_IDS_PER_REQUEST):
        for reply in _connection().story(tasks[start:start + _STORY_IDS_PER_REQUEST]):
            if reply.get("info"):
                recorded[reply["id"]] = json.loads(reply["info"]).get("objects") or []
    for k, object_id in wanted.items():
        objects = recorded.get(object_id & TASK_MASK) or []
        output = object_id >> OUTPUT_SHIFT
        made[k] = objects[output] if output < len(objects) else None
    return made


def _connection():
    """This executor's connection to its server, made on first use and kept."""
    from ...core.connection import Connection   # here: most executors never ask (~5 ms to import, bench 9a)
    with _lock:
        connection = _server["connection"]
        if connection is None or connection.closed:
            host, port = task_clients.server_address()
            connection = _server["connection"] = Connection(host, port, task_clients.secret() or "",
                                                            "rain-executor")
        return connection
