"""The one-line messages the %treadle magics make of errors (magics/declare.py)."""

from treadle.deploy.launcher import SchedulerError
from treadle.magics.declare import one_line


def test_a_scheduler_commands_reason_follows_its_announcement():
    # as launcher.py words a failed sbatch: the command, then what it printed, on the next line
    error = SchedulerError("sbatch --parsable /tmp/x.sh failed (exit code 1):\n"
                           "sbatch: fatal: Could not establish a configuration source\n")
    assert one_line(error) == ("sbatch --parsable /tmp/x.sh failed (exit code 1): "
                               "sbatch: fatal: Could not establish a configuration source")


def test_other_messages_keep_their_first_line():
    assert one_line(ValueError("no secret file\n  at /x")) == "no secret file"
    assert one_line("") == ""
