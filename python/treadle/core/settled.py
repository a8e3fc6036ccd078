"""How a client's tasks ended, as the server told it: its ``settled`` messages for the tasks
the client watches (docs/protocol.md, ``watch``), kept by task id."""


class SettledTasks:
    """The ends heard on ``connection``: ``states`` maps a task id to True (finished) or False
    (failed); a client also records there what its waits and fetches saw."""

    def __init__(self, connection):
        self.connection = connection
        self.states = {}
        self._watched = set()

    def watch(self, ids):
        """Asks the server to say when these tasks end (once per task)."""
        new = [i for i in ids if i not in self._watched]
        self._watched.update(new)
        self.connection.watch(new)

    def take(self, settled):
        """Records the news of ``connection.settled``: (finished ids, failed ids, cancelled ids).
        A cancelled task is not recorded: its handle says so (the client that cancelled it
        marked it), and a wait on it raises its TaskCancelled."""
        finished, failed = settled[0], settled[1]
        for i in finished:
            self.states[i] = True
        for i in failed:
            self.states[i] = False

    def is_settled(self, task_id):
        """True once the task ended (does not wait: at most a few round trips)."""
        first_look = task_id not in self._watched
        self.watch([task_id])
        self.take(self.connection.settled(0.0))
        if first_look and task_id not in self.states:
            # The server answers the watch of a task that has ended at the end of its turn,
            # after the replies of that turn: round trips give that answer time to arrive.
            for _ in range(2):
                self.connection.status()
                self.take(self.connection.settled(0.0))
                if task_id in self.states:
                    break
        return task_id in self.states
