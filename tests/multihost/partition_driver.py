"""Runs inside network namespace A for test_partition.py: the client side of a network
partition. Reports what it saw as ``EVENT {json}`` lines and waits for the test's word (a line on
stdin) where the test changes the network.

    ip netns exec A /usr/bin/python3 partition_driver.py '{"server_host": ..., "server_port": ...}'
"""

import json
import os
import sys
import time

import treadle


def emit(event, **data):
    sys.stdout.write("EVENT " + json.dumps(dict(data, event=event)) + "\n")
    sys.stdout.flush()


def expect(word):
    line = sys.stdin.readline().strip()
    if line != word:
        raise SystemExit("expected {!r} from the test, got {!r}".format(word, line))


def where(i, seconds):
    import os
    import time
    time.sleep(seconds)
    return {"i": i, "netns": os.readlink("/proc/self/ns/net"), "worker_pid": os.getppid()}


def index_of(result):
    return result["i"]


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SystemExit("{} did not happen within {} s".format(what, timeout))
        time.sleep(0.05)


def main(config):
    here = os.readlink("/proc/self/ns/net")
    client = treadle.Client((config["server_host"], config["server_port"]), output=None)
    wait_for(lambda: len(client.status()["workers"]) == 3, 30, "3 workers connecting")

    # Results spread over both sides, held by this client.
    first = [client.submit(where, i, 0.05) for i in range(40)]
    ran = client.gather(first)
    emit("ran", namespaces=sorted({r["netns"] != here for r in ran}))

    # Work in flight on both sides when the link goes down.
    slow = [client.submit(where, i, 0.2) for i in range(60)]
    wait_for(lambda: sum(w["running"] for w in client.status()["workers"]) >= 2, 30, "tasks running on both sides")
    before = client.status()["workers"]
    emit("running", workers=[w["id"] for w in before])
    expect("down")
    t0 = time.monotonic()
    after = wait_for(lambda: (lambda s: s if len(s["workers"]) == 1 else None)(client.status()), 30,
                     "the workers behind the partition declared lost")
    emit("lost", seconds=time.monotonic() - t0, left=[w["id"] for w in after["workers"]])

    # The work goes on on this side: every result exactly once, right.
    results = client.gather(slow)
    assert [r["i"] for r in results] == list(range(60)), results
    # Consumers of the results made before the partition: the server must find each one on a
    # live worker, recomputing those that lived only behind the partition.
    uses = client.gather([client.submit(index_of, r) for r in first])
    assert uses == list(range(40)), uses
    # What lived only behind the partition was computed again on this side.
    emit("recomputed", elsewhere=sum(r["netns"] != here for r in results),
         elsewhere_before=sum(r["netns"] != here for r in client.gather(first)))
    expect("up")

    t0 = time.monotonic()
    back = wait_for(lambda: (lambda s: s if len(s["workers"]) == 3 else None)(client.status()), 40,
                    "the workers behind the partition rejoining")
    old_ids = {w["id"] for w in before}
    fresh = [w for w in back["workers"] if w["id"] not in old_ids]
    emit("rejoined", seconds=time.monotonic() - t0, fresh=len(fresh),
         fresh_done=[w["tasks_done"] for w in fresh])

    # Held results are served right (nothing stale from the workers that came back), and new work
    # runs on both sides again.
    assert client.gather([client.submit(index_of, r) for r in first + slow]) == list(range(40)) + list(range(60))
    third = [client.submit(where, i, 0.05) for i in range(40)]
    ran = client.gather(third)
    assert [r["i"] for r in ran] == list(range(40))
    emit("after", namespaces=sorted({r["netns"] != here for r in ran}),
         workers=len(client.status()["workers"]))
    client.close()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
