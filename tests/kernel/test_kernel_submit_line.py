"""``%%treadle submit`` shows one progress line per job, and it ends below what the job's tasks
printed: the outputs are rendered here as Notebook and nbclient render them (an update replaces
every output with its display id; streams append). Through real kernels: the treadle kernel and
ipykernel + %load_ext treadle."""

import re

from conftest import went_idle

SETUP = """\
%treadle workers 2 --cpus 1
import time
import treadle

@treadle.task(label="shout")
def shout(i):
    time.sleep(0.2)
    print("task", i, "says hello")
    return i
"""


def rendered(messages):
    """The cell's outputs as a front end shows them at the end: [(kind, text)], kind "stream"
    or "line" (a progress line) or "display"; empty displays (a line's old place) left out."""
    outputs = []   # [kind, display id, data or text]
    for m in messages:
        kind, content = m["msg_type"], m["content"]
        if kind == "stream":
            if outputs and outputs[-1][0] == "stream":
                outputs[-1][2] += content["text"]
            else:
                outputs.append(["stream", None, content["text"]])
        elif kind in ("display_data", "execute_result"):
            outputs.append(["display", content.get("transient", {}).get("display_id"), content["data"]])
        elif kind == "update_display_data":
            for o in outputs:
                if o[0] == "display" and o[1] == content["transient"]["display_id"]:
                    o[2] = content["data"]
    out = []
    for kind, _, value in outputs:
        if kind == "stream":
            out.append(("stream", value))
        elif value.get("text/plain"):
            out.append(("line" if "treadle-progress" in value.get("text/html", "") else "display",
                        value["text/plain"]))
    return out


def test_one_line_per_job_below_its_prints(any_kernel):
    k = any_kernel
    reply, outputs, _ = k.run(SETUP)
    assert reply["status"] == "ok", outputs
    _, messages = k.collect("%%treadle submit --name job\nvalues = [shout(i) for i in range(6)]", timeout=60)
    assert went_idle(messages)
    shown = rendered(messages)
    lines = [text for kind, text in shown if kind == "line"]
    assert len(lines) == 1, shown
    assert lines[0].startswith("job: 6/6 done"), shown
    assert shown[-1][0] == "line", shown                  # the line is last
    printed = "".join(text for kind, text in shown if kind == "stream")
    assert sorted(l.split("] ", 1)[1] for l in printed.splitlines()) == \
        ["task {} says hello".format(i) for i in range(6)], shown
    reply, outputs, _ = k.run("print(values)")
    assert "[0, 1, 2, 3, 4, 5]" in outputs[0][1]


GROUPS = """\
%%treadle submit --name big
parts = [square(i) for i in range(150)]
sums = [add_up(parts[i:i + 10]) for i in range(0, 150, 10)]
"""


def test_a_big_job_shows_a_bar_per_label_group(any_kernel):
    k = any_kernel
    reply, outputs, _ = k.run(SETUP + "\n@treadle.task(label='square')\ndef square(x):\n    return x * x\n\n"
                              "@treadle.task(label='sum')\ndef add_up(xs):\n    return sum(xs)\n")
    assert reply["status"] == "ok", outputs
    _, messages = k.collect(GROUPS, timeout=60)
    last = [m["content"]["data"]["text/html"] for m in messages
            if m["msg_type"] in ("display_data", "update_display_data")
            and "treadle-progress" in m["content"]["data"].get("text/html", "")][-1]
    rows = [dict(re.findall(r'([\w-]+)="([^"]*)"', r))
            for r in re.findall(r'<div class="treadle-progress-group" ([^>]*)>', last)]
    assert rows == [{"data-group": "square", "data-total": "150", "data-done": "150", "data-failed": "0",
                     "data-cancelled": "0"},
                    {"data-group": "sum", "data-total": "15", "data-done": "15", "data-failed": "0",
                     "data-cancelled": "0"}], last[:500]
