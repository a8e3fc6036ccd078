"""SLURM: worker jobs as one job array (``sbatch --array=1-N``), cancelled with ``scancel``,
watched with ``scontrol show job`` (which still knows a job for MinJobAge, 300 s by default,
after it ended) and ``sacct`` when accounting is on."""

import re

from .job_script import script_body
from .launcher import JobLauncher, JobState, SchedulerError, run_command

__all__ = ["SlurmLauncher", "parse_scontrol_jobs"]

# Job states after which the job's processes are gone (squeue's long names).
ENDED = {"BOOT_FAIL", "CANCELLED", "COMPLETED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
         "REVOKED", "SPECIAL_EXIT", "TIMEOUT"}
JOB_ID = "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"

# Reasons of a pending job that SLURM's Job Reason Codes (doc/html/job_reason_codes.shtml, squeue(1))
# give as a request it will not run as configured: nothing that ends elsewhere frees the way
# (unlike Resources, Priority, the Grp* and per-user job counts), only a changed request or
# limit does. BadConstraints is "never expected to be runnable"; PartitionConfig the fallback
# "the job violates some limit on the partition" (sbatch --cpus-per-task beyond the nodes').
NEVER_STARTS = {
    "BadConstraints": "its requirements cannot be satisfied",
    "DependencyNeverSatisfied": "it depends on a job that will never satisfy the dependency",
    "PartitionConfig": "its request violates a limit of the partition",
    "PartitionNodeLimit": "its node count is outside the partition's limits (or its nodes are down or drained)",
    "PartitionTimeLimit": "its time limit exceeds the partition's",
    "InvalidAccount": "its account is invalid",
    "InvalidQOS": "its QOS is invalid",
    "AccountNotAllowed": "its account is not allowed in the partition",
    "QOSNotAllowed": "its QOS is not allowed for its association or partition",
    "ReservationDeleted": "its reservation no longer exists",
    "DeadLine": "it cannot meet its deadline",
    "MaxMemPerLimit": "its memory request exceeds the per-cpu or per-node maximum",
}
# Per-job maxima and minima of an association or QOS (AssocMaxCpuPerJobLimit, QOSMaxWallDurationPerJobLimit,
# QOSMinCpuNotSatisfied, ...): the job's own request is out of bounds.
_PER_JOB_LIMIT = re.compile(r"^(?:(?:Assoc|QOS)Max\w*Per(?:Job|Node)\w*|QOSMin\w+)$")


def never_starts(state, reason):
    """Why SLURM will not start a job in ``state`` with ``reason`` as things stand, or ""."""
    if state != "PENDING":
        return ""
    if reason in NEVER_STARTS:
        return NEVER_STARTS[reason]
    if _PER_JOB_LIMIT.match(reason):
        return "its request is outside a per-job limit of its association or QOS"
    return ""


def _array_ids(text):
    """ArrayTaskId of a line: ``3``, or pending tasks ``2-4,7`` (``%limit`` dropped)."""
    ids = []
    for part in text.split("%")[0].split(","):
        first, _, last = part.partition("-")
        if first.isdigit():
            ids += [str(n) for n in range(int(first), int(last or first) + 1)]
    return ids


def _exit_text(code):
    """SLURM's ExitCode ``status:signal`` in words ("" for a clean exit)."""
    status, _, sig = code.partition(":")
    if sig not in ("", "0"):
        return "killed by signal " + sig
    if status not in ("", "0"):
        return "exit code " + status
    return ""


def parse_scontrol_jobs(text):
    """``scontrol -o show job`` output -> ``{job id: JobState}``, array tasks as ``ARRAY_TASK``."""
    jobs = {}
    for line in text.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if "JobState" not in fields:
            continue
        state = fields["JobState"]
        reason = fields.get("Reason", "")
        reason = "" if reason in ("None", "(null)") else reason
        if state in ENDED:
            reason = ", ".join(filter(None, [reason, _exit_text(fields.get("ExitCode", ""))]))
        host = fields.get("BatchHost", "") if fields.get("BatchHost") not in (None, "(null)") else ""
        job_state = JobState(state, state in ENDED, reason, host, never_starts(state, reason))
        if fields.get("ArrayJobId") and fields.get("ArrayTaskId"):
            for task in _array_ids(fields["ArrayTaskId"]):
                jobs["{}_{}".format(fields["ArrayJobId"], task)] = job_state
        elif fields.get("JobId"):
            jobs[fields["JobId"]] = job_state
    return jobs


class SlurmLauncher(JobLauncher):
    name = "slurm"

    def script(self, request):
        lines = ["#!/bin/bash",
                 "#SBATCH --job-name={}".format(request.name),
                 "#SBATCH --array=1-{}".format(request.count),
                 "#SBATCH --ntasks=1",
                 "#SBATCH --cpus-per-task={}".format(request.cpus)]
        if request.time:
            lines.append("#SBATCH --time={}".format(request.time))
        if request.mem:
            lines.append("#SBATCH --mem={}".format(request.mem))
        if request.partition:
            lines.append("#SBATCH --partition={}".format(request.partition))
        if request.account:
            lines.append("#SBATCH --account={}".format(request.account))
        log = request.log_path("%x-%A_%a.out")
        if log:
            lines.append("#SBATCH --output={}".format(log))
        return "\n".join(lines) + "\n" + script_body(request, JOB_ID)

    def submit(self, request):
        out = self.submit_script(request, ["sbatch", "--parsable"])
        array_id = out.strip().split(";")[0]
        if not array_id.isdigit():
            raise SchedulerError("sbatch answered {!r}, not a job id".format(out.strip()))
        return ["{}_{}".format(array_id, i) for i in range(1, request.count + 1)]

    def cancel(self, ids):
        if ids:
            run_command(["scancel"] + list(ids), check=False)

    def states(self, ids):
        states = {}
        for array_id in sorted({i.split("_")[0] for i in ids}):
            out = run_command(["scontrol", "-o", "show", "job", array_id], check=False)
            states.update(parse_scontrol_jobs(out))
        return {i: states[i] for i in ids if i in states}
