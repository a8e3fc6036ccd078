"""Which of the server's losses a notebook tells, and how (treadle.notebook.lost_worker_notices):
each once, those the server no longer keeps counted, the time said for a loss before the cell."""

from treadle.notebook.lost_worker_notices import LostWorkerNotices


def loss(seq, name, time_us, reason="connection closed"):
    return {"seq": seq, "id": seq, "name": name, "address": "tcp://127.0.0.1:1", "reason": reason,
            "time_us": time_us}


def test_each_loss_is_told_once_and_a_gap_is_counted():
    notices = LostWorkerNotices()
    assert notices.news({"lost_workers": []}) == []
    assert notices.news({}) == []                         # a server without the field
    cell_start = 2_000_000_000_000_000
    first = loss(1, "vm:1", cell_start + 5)
    assert notices.news({"lost_workers": [first]}, cell_start) == ["treadle: worker vm:1 lost (connection closed)"]
    assert notices.news({"lost_workers": [first]}, cell_start) == []
    # Losses 2..4 fell out of the server's record: counted, not named.
    later = [loss(5, "vm:5", cell_start - 10, "no heartbeat"), loss(6, "vm:6", cell_start + 9)]
    lines = notices.news({"lost_workers": later}, cell_start)
    assert lines[0] == "treadle: 3 workers lost before these"
    assert lines[1].startswith("treadle: worker vm:5 lost at ") and lines[1].endswith(" (no heartbeat)")
    assert lines[2] == "treadle: worker vm:6 lost (connection closed)"
    assert notices.news({"lost_workers": later}) == []
