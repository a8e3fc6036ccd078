"""A server killed while a client waits is reported promptly and truthfully.

Its connection closes at once (the kernel closes a dead process's sockets) and reconnecting is
refused (nothing listens): the client's waits fail within seconds saying the server stopped,
never "has not answered ...; its connection is open" (it is not) nor "answered again" (it did
not), which a 12 s silence rule used to print before the error. A server that is alive but
silent is still waited for: tests/e2e/test_client_waits.py (stopped past the old timeout)."""

import signal

import pytest

from tests.e2e.test_client_waits import Script

CLIENT = """
import treadle
def slow(i):
    import time; time.sleep(0.5); return i * 2
c = treadle.Client(("127.0.0.1", {port}), output=None)
assert c.submit(slow, 1).result() == 2
fs = [c.submit(slow, i) for i in range(20)]
c.flush()
print("waiting", flush=True)
try:
    print({wait})
except BaseException as e:
    print("failed: %s: %s" % (type(e).__name__, e), flush=True)
try:
    c.submit(slow, 5).result()
except BaseException as e:
    print("new submit: %s: %s" % (type(e).__name__, e), flush=True)
"""


# Every way to wait says the same (as_completed and waits with a timeout once said only "lost the
# connection to the treadle server", without the address or the reason).
WAITS = {
    "result": "[f.result() for f in fs]",
    "result_timeout": "[f.result(timeout=60) for f in fs]",
    "gather_timeout": "c.gather(fs, timeout=60)",
    "as_completed": "[f.result() for f in treadle.as_completed(fs)]",
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("wait", sorted(WAITS))
def test_a_killed_server_is_reported_promptly_without_false_notices(make_cluster, wait):
    cluster = make_cluster(workers=2, cpus=1)
    script = Script(CLIENT.format(port=cluster.port, wait=WAITS[wait]))
    script.wait_for("waiting", stream="out")
    cluster.server.send_signal(signal.SIGKILL)
    cluster.server.wait()
    assert script.finish(timeout=60) == 0, script.text()
    text = script.text()
    assert "has not answered" not in text and "answered again" not in text, text
    failed = [line for line in script.out if line.startswith("failed: ")]
    assert len(failed) == 1, text
    # The error says what happened (the 12 s silence rule said "no answer for 12 s").
    assert "LoomException: lost the connection to the treadle server at 127.0.0.1:{}".format(cluster.port) in failed[0], text
    assert "reconnecting is refused" in failed[0] and "no answer for" not in failed[0], text
    assert any(line.startswith("new submit: LoomException: lost the connection") for line in script.out), text
