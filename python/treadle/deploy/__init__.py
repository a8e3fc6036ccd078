"""Workers through batch schedulers (SLURM, Grid Engine, PBS/Torque): ``treadle-cluster``.

* ``submit_workers(server, "slurm", n, ...)`` submits n worker jobs that connect back to a
  running server and returns ``WorkerJobs`` (their states, the workers they became, cancel);
* ``allocation_hosts(os.environ)`` reads the hosts of the allocation a job runs in, and
  ``start``/``stop``/``status`` (``commands``) are the ``treadle-cluster`` commands, which
  also start the server and record what they started (``state``);
* one ``JobLauncher`` per scheduler (``slurm``, ``sge``, ``pbs``; ``launcher.py`` says what a
  new one implements) writes the job script (``job_script``) and runs the scheduler's commands.

docs/cluster.md is the guide.
"""

from .commands import start, status, stop
from .hostlists import allocation_hosts, expand_nodelist, expand_tasks_per_node
from .job_script import JobRequest
from .launcher import JobLauncher, JobState, SchedulerError
from .launchers import launcher_for
from .worker_jobs import WorkerJobs, job_of_worker, submit_workers

__all__ = ["JobLauncher", "JobRequest", "JobState", "SchedulerError", "WorkerJobs", "allocation_hosts",
           "expand_nodelist", "expand_tasks_per_node", "job_of_worker", "launcher_for", "start", "status", "stop",
           "submit_workers"]
