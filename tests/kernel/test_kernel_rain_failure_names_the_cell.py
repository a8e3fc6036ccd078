"""A failed Rain task's TaskException names a frame of a function defined in a notebook cell
as every other API's failure does, ``Cell In [N], line L, in f`` with the cell's line under it,
not the file the kernel compiled the cell to (/tmp/xpython_*/*.py, /tmp/ipykernel_*/*.py),
which the worker never had. Through real kernels (treadle's, and ipykernel with
%load_ext treadle)."""

import pytest
from conftest import text

DEFINE = """\
%treadle workers 1
from treadle.rain.client import Client, TaskException, blob, remote
from treadle.notebook import kernel as kernel_support
rc = Client(*kernel_support.session().address)

class MyErr(Exception):
    pass

@remote()
def rbad(ctx, x):
    if x.get_bytes() == b"5":
        raise MyErr("five")
    return x
"""

FAIL = """\
s = rc.new_session()
with s.bind_only():
    ts = [rbad(blob(str(i))) for i in (4, 5)]
for t in ts: t.output.keep()
s.submit()
s.wait_all()
"""


@pytest.mark.timeout(120)
def test_a_failed_rain_tasks_message_names_the_cell_and_its_line(any_kernel):
    k = any_kernel
    reply, outputs, _ = k.run(DEFINE, timeout=60)
    assert reply["status"] == "ok", outputs
    defined_in = reply["execution_count"]
    reply, outputs, _ = k.run(FAIL, timeout=60, stop_on_error=False)
    assert reply["status"] == "error" and reply["ename"] == "TaskException", outputs
    message = reply["evalue"]
    assert message.startswith("Task <Task rbad id="), message
    assert "failed\nMessage: Traceback (most recent call last):\n" in message, message
    frame = "  Cell In [{}], line 12, in rbad\n    raise MyErr(\"five\")\nMyErr: five".format(defined_in)
    assert frame in message, message
    assert "/tmp/" not in message, message
    # The error attribute reads the same; the cause is the task's own exception.
    out = text(k.run("try:\n    s.wait_all()\nexcept TaskException as e:\n"
                     "    print(type(e.cause).__name__, 'Cell In [{}]'.format({}) in e.error)".format("{}", defined_in))[1])
    assert out.strip() == "MyErr True", out
