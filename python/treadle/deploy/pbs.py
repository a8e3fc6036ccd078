"""PBS/Torque: one ``qsub`` per worker job (array syntax differs between Torque's ``-t`` and
PBS Pro's ``-J``; separate jobs work on both), cancelled with ``qdel``, watched with
``qstat -f``. Options go on qsub's command line, where every PBS flavour (and SLURM's
``qsub`` wrapper, which ignores ``#PBS`` lines) reads them; the script repeats them as
``#PBS`` lines for whoever reads it. Resources use Torque's ``nodes=1:ppn=C``."""

import os
import re
import tempfile
import time

from .job_script import script_body, time_hms
from .launcher import JobLauncher, JobState, SchedulerError, run_command

__all__ = ["PbsLauncher", "parse_qstat_full"]

# PBS_JOBID in PBS; under SLURM's PBS wrappers the job is a SLURM job.
JOB_ID = "${PBS_JOBID:-$SLURM_JOB_ID}"
ENDED = {"C", "E", "F", "X"}   # completed, exiting, finished (PBS Pro), expired subjob


def parse_qstat_full(text):
    """``qstat -f`` output -> ``{job id: JobState}``."""
    jobs = {}
    for block in re.split(r"^(?=Job Id:)", text, flags=re.M):
        match = re.match(r"Job Id:\s*(\S+)", block)
        if not match:
            continue
        fields = dict(re.findall(r"^\s+(\w+)\s*=\s*(.*?)\s*$", block, flags=re.M))
        state = fields.get("job_state", "?")
        reason = ""
        if state in ENDED and fields.get("exit_status", "0") not in ("0", ""):
            reason = "exit status " + fields["exit_status"]
        host = fields.get("exec_host", "").split("/")[0]
        jobs[match.group(1)] = JobState(state, state in ENDED, reason, host)
    return jobs


class PbsLauncher(JobLauncher):
    name = "pbs"

    def options(self, request, index=None):
        """qsub's options for one job (``index``: its output file's number)."""
        resources = ["nodes=1:ppn={}".format(request.cpus)]
        if request.time:
            resources.append("walltime={}".format(time_hms(request.time)))
        if request.mem:
            resources.append("mem={}".format(request.mem))
        # One -l with every resource: some qsubs (SLURM's) keep only the last -l.
        opts = ["-N", request.name, "-j", "oe", "-l", ",".join(resources)]
        if request.partition:
            opts += ["-q", request.partition]
        if request.account:
            opts += ["-A", request.account]
        if request.log_dir and index is not None:
            opts += ["-o", request.log_path("{}-{}-{}.out".format(request.name, int(time.time()), index))]
        return opts

    def script(self, request):
        opts = self.options(request)
        lines = ["#!/bin/bash"] + ["#PBS {} {}".format(opts[i], opts[i + 1]) for i in range(0, len(opts), 2)]
        return "\n".join(lines) + "\n" + script_body(request, JOB_ID)

    def submit(self, request):
        with tempfile.NamedTemporaryFile("w", suffix=".sh", dir=request.log_dir, delete=False) as f:
            f.write(self.script(request))
        ids = []
        try:
            for index in range(1, request.count + 1):
                out = run_command(["qsub"] + self.options(request, index) + [f.name])
                job = out.strip().splitlines()[-1].strip() if out.strip() else ""
                if not job or not re.match(r"^\d+(\.\S+)?$", job):
                    self.cancel(ids)
                    raise SchedulerError("qsub answered {!r}, not a job id".format(out.strip()))
                ids.append(job)
        finally:
            os.unlink(f.name)
        return ids

    def cancel(self, ids):
        if ids:
            run_command(["qdel"] + list(ids), check=False)

    def states(self, ids):
        states = {}
        for job in ids:
            states.update(parse_qstat_full(run_command(["qstat", "-f", job], check=False)))
        return {i: states[i] for i in ids if i in states}
