"""Tasks run again in the trace widget (docs/tracing.md, "Tasks run again"): a task whose result
was lost with its worker while still needed is computed again and has a bar per run. The trace
counts it once; each bar says which attempt it is ("attempt 1 of 2"), the earlier ones drawn pale
in a group of their own (and naming the lost worker their result went with), the last one in its
label group's colour."""

from .. import trace as _trace

ATTEMPT_GROUP = "↻ earlier attempt"
ATTEMPT_COLOR = "#cdd5df"   # paler than cancelled's grey, apart from every group (colors.py)


class Attempts:
    """The runs of the tasks among ``tasks`` (task events) that ran more than once; ``lost``:
    worker id -> name of the workers lost in the trace."""

    def __init__(self, tasks, lost):
        self._of = _trace.attempts(tasks)
        self._lost = lost
        self._tasks = tasks
        self.count = len(set(e["task"] for e in tasks))   # tasks, not bars
        self.run_again = len(set(e["task"] for e in tasks if id(e) in self._of))

    def said(self, failed):
        """"30 tasks (1 failed, 5 run again after worker vm:12 was lost)"; ``failed``: the ids of
        the failed tasks (a failed task drawn cancelled is not)."""
        return _trace.count_tasks(self._tasks, sorted(set(self._lost.values())), failed)

    def relabel(self, event, group, label):
        """(group, label) of the bar of ``event``: unchanged for a task that ran once."""
        if id(event) not in self._of:
            return group, label
        k, n = self._of[id(event)]
        label = "{} — attempt {} of {}".format(label or group, k, n)
        if k == n:
            return group, label
        if event["worker"] in self._lost:
            label += ": its result was lost with worker {}".format(self._lost[event["worker"]])
        return ATTEMPT_GROUP, label
