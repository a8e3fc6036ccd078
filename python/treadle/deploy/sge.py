"""Grid Engine: worker jobs as one array job (``qsub -t 1-N``), cancelled with ``qdel``,
watched with ``qstat`` while queued or running and ``qacct`` once ended (when the cell keeps
accounting). A job with several cpus asks the parallel environment ``--pe`` (default "smp")
for that many slots: its name is the cell's choice (``qconf -spl`` lists them)."""

import re

from .job_script import script_body, time_hms
from .launcher import JobLauncher, JobState, SchedulerError, run_command

__all__ = ["SgeLauncher", "parse_qacct", "parse_qstat"]

JOB_ID = "${JOB_ID}.${SGE_TASK_ID}"


def parse_qstat(text):
    """``qstat -g d`` output -> ``{"JOB.TASK": JobState}`` (states r, qw, t, dr, Eqw, ...)."""
    jobs = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 8 or not fields[0].isdigit():
            continue
        state = fields[4]
        task = fields[-1] if len(fields) in (9, 10) and fields[-1].isdigit() else "1"
        host = fields[7].split("@", 1)[1] if "@" in fields[7] else ""
        reason = "error state: see qstat -j {}".format(fields[0]) if "E" in state else ""
        # An error state (Eqw) stays until someone clears it (qmod -cj): the job does not start.
        # Plain qw carries no reason here (qstat -j's scheduling info has it, when the cell keeps
        # it): it is waited for.
        never = "Grid Engine put it in an error state (qmod -cj {} clears it)".format(fields[0]) if "E" in state else ""
        jobs["{}.{}".format(fields[0], task)] = JobState(state, False, reason, host, never)
    return jobs


def parse_qacct(text):
    """``qacct -j JOB`` output -> ``{"JOB.TASK": JobState}`` of ended tasks."""
    jobs = {}
    for block in re.split(r"^=+\s*$", text, flags=re.M):
        fields = dict(re.findall(r"^(\w+)\s+(.*?)\s*$", block, flags=re.M))
        if "jobnumber" not in fields:
            continue
        task = fields.get("taskid", "undefined")
        task = task if task.isdigit() else "1"
        failed = fields.get("failed", "0")
        status = fields.get("exit_status", "0").split()[0]
        if failed.split()[0] != "0":
            reason = "failed " + failed
        elif status != "0":
            reason = "exit status " + status + (" (killed by signal {})".format(int(status) - 128)
                                                if status.isdigit() and int(status) > 128 else "")
        else:
            reason = ""
        jobs["{}.{}".format(fields["jobnumber"], task)] = JobState("ended", True, reason,
                                                                   fields.get("hostname", ""))
    return jobs


class SgeLauncher(JobLauncher):
    name = "sge"

    def script(self, request):
        lines = ["#!/bin/bash",
                 "#$ -N {}".format(request.name),
                 "#$ -t 1-{}".format(request.count),
                 "#$ -S /bin/bash",
                 "#$ -j y"]
        if request.cpus > 1:
            lines.append("#$ -pe {} {}".format(request.parallel_env, request.cpus))
        if request.time:
            lines.append("#$ -l h_rt={}".format(time_hms(request.time)))
        if request.mem:
            lines.append("#$ -l h_vmem={}".format(request.mem))
        if request.partition:
            lines.append("#$ -q {}".format(request.partition))
        if request.account:
            lines.append("#$ -A {}".format(request.account))
        log = request.log_path("$JOB_NAME-$JOB_ID.$TASK_ID.out")
        if log:
            lines.append("#$ -o {}".format(log))
        return "\n".join(lines) + "\n" + script_body(request, JOB_ID)

    def submit(self, request):
        out = self.submit_script(request, ["qsub", "-terse"])
        job = out.strip().split(".")[0]
        if not job.isdigit():
            raise SchedulerError("qsub answered {!r}, not a job id".format(out.strip()))
        return ["{}.{}".format(job, i) for i in range(1, request.count + 1)]

    def cancel(self, ids):
        by_job = {}
        for i in ids:
            job, _, task = i.partition(".")
            by_job.setdefault(job, []).append(task)
        for job, tasks in by_job.items():
            run_command(["qdel", job, "-t", ",".join(tasks)] if tasks != [""] else ["qdel", job], check=False)

    def states(self, ids):
        states = parse_qstat(run_command(["qstat", "-g", "d"], check=False))
        for job in sorted({i.split(".")[0] for i in ids if i not in states}):
            states.update({k: v for k, v in parse_qacct(run_command(["qacct", "-j", job], check=False)).items()
                           if k not in states})
        return {i: states[i] for i in ids if i in states}
