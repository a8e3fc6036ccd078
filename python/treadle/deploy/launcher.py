"""The interface every batch scheduler implements for treadle-cluster, and what they share.

A ``JobLauncher`` turns a ``JobRequest`` into worker jobs and answers for them:

* ``script(request)``: the job script (shown by ``treadle-cluster start --dry-run``);
* ``submit(request)``: submits the jobs; returns their ids, each the id the worker reports
  (``--job``) and the one ``cancel`` and ``states`` take;
* ``cancel(ids)``: cancels them (ids the scheduler no longer knows are not an error);
* ``states(ids)``: ``{id: JobState}`` for the ids the scheduler still knows about.

A new scheduler is one module with one such class, registered in ``launcher_for`` (below).
"""

import os
import subprocess
import tempfile

__all__ = ["JobLauncher", "JobState", "SchedulerError", "run_command"]


class SchedulerError(RuntimeError):
    """A scheduler command failed; the message has the command and what it printed."""


class JobState:
    """A job as its scheduler sees it: ``state`` in the scheduler's own words (PENDING, RUNNING,
    CANCELLED, TIMEOUT, r, qw, ...), whether it ``ended``, and ``reason`` (why it waits or
    ended, exit code), if the scheduler says. ``never_starts``: for a waiting job the scheduler
    will not start as things stand (its request breaks a limit, an error state), why in words;
    else "". Such a job stays queued until someone changes the request, the limits or the
    state: nobody waits for it."""

    def __init__(self, state, ended, reason="", host="", never_starts=""):
        self.state = state
        self.ended = ended
        self.reason = reason
        self.host = host
        self.never_starts = never_starts

    def describe(self):
        text = self.state
        if self.reason:
            text += " ({})".format(self.reason)
        return text

    def to_json(self):
        return {"state": self.state, "ended": self.ended, "reason": self.reason, "host": self.host,
                "never_starts": self.never_starts}

    @classmethod
    def from_json(cls, data):
        return cls(data.get("state", "?"), bool(data.get("ended")), data.get("reason", ""), data.get("host", ""),
                   data.get("never_starts", ""))

    def __repr__(self):
        return "<JobState {}{}>".format(self.describe(), " ended" if self.ended else "")


def clean_environment():
    """The environment scheduler commands run in: without the secret, so a scheduler that
    copies the submitter's environment into the job (sbatch, qsub -V) never stores it."""
    env = dict(os.environ)
    env.pop("TREADLE_SECRET", None)
    return env


def run_command(argv, input=None, timeout=60, check=True):
    """Runs a scheduler command; returns its stdout. A missing program or a failure raises
    SchedulerError with the command line and its output."""
    try:
        done = subprocess.run(argv, input=input, capture_output=True, text=True, timeout=timeout,
                              env=clean_environment())
    except FileNotFoundError:
        raise SchedulerError("{}: command not found (is the scheduler's client installed and on PATH?)".format(
            argv[0])) from None
    except subprocess.TimeoutExpired:
        raise SchedulerError("{} did not answer within {} s".format(" ".join(argv), timeout)) from None
    if check and done.returncode != 0:
        raise SchedulerError("{} failed (exit code {}):\n{}".format(
            " ".join(argv), done.returncode, (done.stderr + done.stdout).strip() or "(no output)"))
    return done.stdout


class JobLauncher:
    """Base class of the schedulers' launchers (see the module's docstring)."""

    name = "?"

    def script(self, request):
        raise NotImplementedError

    def submit(self, request):
        raise NotImplementedError

    def submit_script(self, request, command):
        """Writes the job script for ``request`` to a file, runs ``command`` + [that file] and
        returns what it printed; the file goes (the scheduler keeps its own copy)."""
        with tempfile.NamedTemporaryFile("w", suffix=".sh", dir=request.log_dir, delete=False) as f:
            f.write(self.script(request))
        try:
            return run_command(command + [f.name])
        finally:
            os.unlink(f.name)

    def cancel(self, ids):
        raise NotImplementedError

    def states(self, ids):
        raise NotImplementedError

