"""A progress line whose cell cancels its tasks ends "cancelled", whoever counts the cancel
first: the cell's own end, or the progress monitor hearing the scheduler (which may come
first), also when one of the line's tasks had failed before (a %%treadle submit cell fails as
soon as one task fails; the interrupt that cancels the others comes after)."""

from treadle.widgets import progress


def test_a_line_with_a_failed_task_whose_cell_cancels_the_rest_ends_cancelled():
    p = progress.Progress("job", 5)
    p.add(0, failed=[1])
    p.cancelling()                           # the cell cancels its tasks ...
    p.add(0, cancelled=[2, 3, 4, 5])         # ... and the monitor counts the cancel first
    assert p.state == "cancelled", p.text()
    assert p.text().startswith("job: 0/5 done, 1 failed, 4 cancelled in ") and p.text().endswith("(cancelled)")
    p.cancelled()                            # the cell's own end changes nothing
    assert p.state == "cancelled"


def test_a_line_with_a_failed_task_whose_rest_someone_else_cancelled_ends_failed():
    p = progress.Progress("job", 3)
    p.add(0, failed=[1])
    p.add(1, cancelled=[3])                  # not this cell's cancel: its failure is its end
    assert p.state == "failed" and p.text().endswith(")") and "(cancelled)" not in p.text(), p.text()
