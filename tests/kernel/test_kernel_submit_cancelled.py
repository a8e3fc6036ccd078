"""A future the cell cancelled itself in a ``%%treadle submit`` cell (docs/kernel.md, "What a
submit binds"): the cell does not wait for it and does not fail for it; the healthy futures are
bound as their results, the cancelled one stays under its name (``cancelled()``; its
``result()`` raises CancelledError), and the progress line counts it cancelled, ending as the
line of a cell that finished (not "(cancelled)", which says the cell was). SCOOP and native
futures, both kernels."""

from conftest import text


def test_a_future_the_cell_cancelled_stays_and_the_others_are_bound(any_kernel):
    reply, outputs, _ = any_kernel.run("%treadle workers 2 --cpus 1\n"
                                       "import time, treadle\n"
                                       "from treadle.scoop import futures\n"
                                       "def sq(x):\n"
                                       "    return x * x\n")
    assert reply["status"] == "ok", outputs
    _, messages = any_kernel.collect("%%treadle submit\n"
                                     "c = futures.submit(time.sleep, 30)\n"
                                     "c.cancel()\n"
                                     "ok = futures.submit(sq, 8)\n"
                                     "both = [futures.submit(sq, 3), c]\n"
                                     "n = treadle.submit(time.sleep, 30)\n"
                                     "treadle.default_client().cancel([n])\n"
                                     "fine = treadle.submit(sq, 9)\n", timeout=60)
    assert not [m for m in messages if m["msg_type"] == "error"], messages
    lines = [m["content"]["data"]["text/plain"] for m in messages
             if m["msg_type"] in ("display_data", "update_display_data")]
    reply, outputs, _ = any_kernel.run(
        "import concurrent.futures\n"
        "try:\n"
        "    n.result()\n"
        "except concurrent.futures.CancelledError:\n"
        "    print('n cancelled')\n"
        "print(ok, fine, both[0], c.cancelled(), both[1] is c, c.done())\n")
    assert reply["status"] == "ok", outputs
    assert text(outputs) == "n cancelled\n64 81 9 True True True\n", outputs
    # The line's last word counts them: 3 results, 2 cancelled; and it ends as a cell that
    # finished does, not "(cancelled)" as an interrupted cell's (the cell cancelled 2 of its futures).
    assert lines and lines[-1].startswith("submit: 3/5 done, 0 failed, 2 cancelled in "), lines
    assert lines[-1].endswith(" tasks/s)"), lines
    last_html = [m["content"]["data"]["text/html"] for m in messages
                 if m["msg_type"] in ("display_data", "update_display_data")][-1]
    assert 'data-state="done"' in last_html, last_html
