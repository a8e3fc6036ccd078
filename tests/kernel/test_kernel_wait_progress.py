"""A cell that blocks on native futures (gather, result, map) shows a progress line once the
wait lasts over half a second, one line per wait (a map's windows are one wait), and the line
says how the wait ended. Through real kernels: the treadle kernel and ipykernel + %load_ext."""

from conftest import went_idle

SETUP = """\
%treadle workers 2
import time
import treadle

def slow(x):
    time.sleep(0.05)
    return x
"""


def start(k):
    reply, outputs, _ = k.run(SETUP)
    assert reply["status"] == "ok", outputs


def lines(messages):
    """(msg_type, display id, text/plain) of the progress displays."""
    return [(m["msg_type"], m["content"].get("transient", {}).get("display_id"), m["content"]["data"]["text/plain"])
            for m in messages if m["msg_type"] in ("display_data", "update_display_data")
            and "treadle-progress" in m["content"]["data"].get("text/html", "")]


def test_a_long_gather_shows_one_line_that_ends_done(any_kernel):
    k = any_kernel
    start(k)
    _, messages = k.collect("r = treadle.gather([treadle.submit(slow, i) for i in range(40)])\nsum(r)")
    shown = lines(messages)
    assert shown and shown[0][0] == "display_data", shown
    assert {d for _, d, _ in shown} == {shown[0][1]}, shown         # one line, updated in place
    assert shown[0][2].startswith("waiting for 40 tasks: "), shown
    assert "40/40 done, 0 failed in " in shown[-1][2], shown
    result = [m for m in messages if m["msg_type"] == "execute_result"]
    assert result and result[0]["content"]["data"]["text/plain"] == str(sum(range(40)))


def test_a_map_is_one_wait_and_a_quick_gather_none(any_kernel):
    k = any_kernel
    start(k)
    # 100 results come in windows of 32, each a wait of 0.8 s or more on the 2 cpus (past the
    # half second that shows a line): still one line.
    _, messages = k.collect("r = list(treadle.map(slow, range(100), window=32))\nlen(r)", timeout=60)
    shown = lines(messages)
    assert len({d for _, d, _ in shown}) == 1, shown
    assert "100/100 done" in shown[-1][2], shown
    _, messages = k.collect("treadle.gather([treadle.submit(abs, -i) for i in range(5)])")
    assert lines(messages) == [], lines(messages)


def test_an_interrupted_wait_says_cancelled(kernel):
    start(kernel)
    msg_id = kernel.kc.execute("treadle.gather([treadle.submit(time.sleep, 5) for _ in range(4)])")
    messages = []
    kernel.follow(msg_id, until=lambda ms: any(m["msg_type"] == "display_data" for m in ms), messages=messages)
    kernel.km.interrupt_kernel()
    kernel.follow(msg_id, until=went_idle, messages=messages, timeout=10)
    assert any(m["msg_type"] == "error" and m["content"]["ename"] == "KeyboardInterrupt" for m in messages)
    assert "(cancelled)" in lines(messages)[-1][2], lines(messages)
