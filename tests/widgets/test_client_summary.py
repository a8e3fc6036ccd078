"""The Client's notebook repr (treadle.core.client_summary): the numbers of one status answer
as a line of text and as HTML from its template, escaped, without a server."""

import re
import xml.etree.ElementTree as ET

from treadle.core.client_summary import ClusterSummary, human_bytes

STATUS = {
    "workers": [
        {"id": 0, "name": "node-a:101", "cpus": 4, "free_cpus": 1, "running": 3, "queued": 5, "tasks_done": 40,
         "rss": 3 * 2 ** 30, "store": 2 ** 20},
        {"id": 1, "name": "<b>node-b</b>:102", "cpus": 2, "free_cpus": 2, "running": 0, "queued": 0, "tasks_done": 7},
    ],
    "clients": 2,
    "states": {"waiting": 4, "ready": 0, "assigned": 5, "running": 3, "redirected": 0, "finished": 12,
               "failed": 1, "released": 30},
}


class _Connection:
    def __init__(self, status=None, error=None, closed=False):
        self._status, self._error, self.closed = status, error, closed

    def status(self):
        if self._error:
            raise self._error
        return self._status


def test_text_names_the_server_workers_cpus_memory_and_tasks_in_the_users_words():
    s = ClusterSummary.of("treadle.Client", ("127.0.0.1", 9010), _Connection(STATUS))
    assert s.text() == ("<treadle.Client 127.0.0.1:9010: 2 workers, 6 cpus (3 free), memory 3.0 GiB; "
                        "tasks: 4 waiting, 5 queued, 3 running, 12 finished, 1 failed, 30 released>")


def test_html_carries_the_same_numbers_escaped():
    html = ClusterSummary.of("treadle.Client", ("127.0.0.1", 9010), _Connection(STATUS)).html()
    root = ET.fromstring(html)      # well-formed: a notebook or an exporter may parse it
    assert (root.get("data-workers"), root.get("data-cpus"), root.get("data-free")) == ("2", "6", "3")
    assert re.search(r'<td class="treadle-client-cpus">6 \(3 free\)</td>', html)
    assert re.search(r'<td class="treadle-client-memory">3\.0 GiB</td>', html)
    assert [s.get("data-state") for s in root.iter("span")] == ["waiting", "queued", "running", "finished", "failed",
                                                                 "released"]
    assert "&lt;b&gt;node-b&lt;/b&gt;:102" in html and "<b>" not in html      # names are escaped
    rows = [[td.text for td in tr.findall("td")] for tr in root.iter("tr") if tr.find("td") is not None
            and tr.find("th") is None]
    assert rows[0] == ["node-a:101", "4", "1", "3", "5", "40", "3.0 GiB", "1.0 MiB"]
    assert rows[1][1:6] == ["2", "2", "0", "0", "7"] and rows[1][6:] == ["-", "-"]   # no sample yet


def test_a_closed_client_or_a_silent_server_says_so():
    closed = ClusterSummary.of("treadle.Client", ("h", 1), _Connection(closed=True))
    assert closed.text() == "<treadle.Client h:1 (closed)>" and "closed" in closed.html()
    silent = ClusterSummary.of("treadle.Client", ("h", 1), _Connection(error=RuntimeError("timed out")))
    assert silent.text() == "<treadle.Client h:1 (the server does not answer: timed out)>"
    empty = ClusterSummary.of("treadle.Client", ("h", 1), _Connection({"workers": [], "states": {}}))
    assert empty.text() == "<treadle.Client h:1: 0 workers, 0 cpus (0 free), memory 0 B; tasks: none>"
    assert human_bytes(1536) == "1.5 KiB" and human_bytes(0) == "0 B"
