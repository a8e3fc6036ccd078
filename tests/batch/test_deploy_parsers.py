"""treadle.deploy without daemons: allocation host lists, scheduler outputs, job scripts."""

import os
import stat

import pytest

from treadle.deploy import hostlists
from treadle.deploy.hostlists import allocation_hosts, expand_nodelist, expand_tasks_per_node
from treadle.deploy.job_script import JobRequest, time_hms
from treadle.deploy.launcher import JobState
from treadle.deploy.launchers import launcher_for
from treadle.deploy.pbs import parse_qstat_full
from treadle.deploy.secret_file import secret_file_path
from treadle.deploy.sge import parse_qacct, parse_qstat
from treadle.deploy.slurm import parse_scontrol_jobs
from treadle.deploy.worker_jobs import job_of_worker


# --- SLURM node lists -------------------------------------------------------------------------

@pytest.mark.parametrize("text, hosts", [
    ("node[01-03,07],gpu1", ["node01", "node02", "node03", "node07", "gpu1"]),
    ("vm", ["vm"]),
    ("a,b", ["a", "b"]),
    ("n[8-11]", ["n8", "n9", "n10", "n11"]),
    ("n[098-101]", ["n098", "n099", "n100", "n101"]),
    ("rack[1-2]-n[1-2]", ["rack1-n1", "rack1-n2", "rack2-n1", "rack2-n2"]),
    ("c[1,3]x,d", ["c1x", "c3x", "d"]),
    ("node-[1-2].cluster", ["node-1.cluster", "node-2.cluster"]),
])
def test_nodelist(text, hosts):
    assert expand_nodelist(text) == hosts


@pytest.mark.parametrize("text", ["", "node[1-3", "node1-3]", "n[a-b]", "n[3-1]", "a,,b", "n[[1]]", "n[]"])
def test_bad_nodelist_is_refused_with_the_variable(text):
    with pytest.raises(ValueError, match="SLURM_JOB_NODELIST"):
        expand_nodelist(text)


@pytest.mark.parametrize("text, counts", [
    ("2(x3),1", [2, 2, 2, 1]),
    ("1", [1]),
    ("4,4", [4, 4]),
    ("16(x2)", [16, 16]),
])
def test_tasks_per_node(text, counts):
    assert expand_tasks_per_node(text) == counts


@pytest.mark.parametrize("text", ["", "2(x)", "x3", "0", "2(x0)", "2(3)", "1,,1"])
def test_bad_tasks_per_node(text):
    with pytest.raises(ValueError, match="SLURM_TASKS_PER_NODE"):
        expand_tasks_per_node(text)


def test_slurm_allocation_slots_are_tasks_times_cpus_per_task():
    env = {"SLURM_JOB_ID": "42", "SLURM_JOB_NODELIST": "node[01-03,07]", "SLURM_TASKS_PER_NODE": "2(x3),1",
           "SLURM_CPUS_PER_TASK": "2"}
    alloc = allocation_hosts(env)
    assert (alloc.scheduler, alloc.job) == ("slurm", "42")
    assert alloc.hosts == [("node01", 4), ("node02", 4), ("node03", 4), ("node07", 2)]
    assert alloc.slots == 14


def test_slurm_allocation_whose_counts_do_not_match_is_refused():
    with pytest.raises(ValueError, match="names 2 hosts"):
        hostlists.slurm_hosts({"SLURM_JOB_NODELIST": "a,b,c", "SLURM_TASKS_PER_NODE": "1(x2)"})


# --- PBS and Grid Engine host files --------------------------------------------------------------

def test_pbs_nodefile_counts_slots_per_host_in_order(tmp_path):
    f = tmp_path / "nodes"
    f.write_text("n2\nn2\nn1\n\nn2\nn3\n")
    assert hostlists.parse_pbs_nodefile(str(f)) == [("n2", 3), ("n1", 1), ("n3", 1)]
    alloc = allocation_hosts({"PBS_NODEFILE": str(f), "PBS_JOBID": "7.server"})
    assert (alloc.scheduler, alloc.job, alloc.slots) == ("pbs", "7.server", 5)


def test_empty_pbs_nodefile_is_refused(tmp_path):
    f = tmp_path / "nodes"
    f.write_text("\n")
    with pytest.raises(ValueError, match="no hosts"):
        hostlists.parse_pbs_nodefile(str(f))


def test_pe_hostfile(tmp_path):
    f = tmp_path / "pe"
    f.write_text("n1.example 4 all.q@n1.example UNDEFINED\nn2 2 all.q@n2 0,1\n")
    assert hostlists.parse_pe_hostfile(str(f)) == [("n1.example", 4), ("n2", 2)]
    alloc = allocation_hosts({"PE_HOSTFILE": str(f), "JOB_ID": "9"})
    assert (alloc.scheduler, alloc.job, alloc.hosts) == ("sge", "9", [("n1.example", 4), ("n2", 2)])


def test_bad_pe_hostfile_line_is_named(tmp_path):
    f = tmp_path / "pe"
    f.write_text("n1 4 q UNDEFINED\nn2 many q UNDEFINED\n")
    with pytest.raises(ValueError, match="line 2"):
        hostlists.parse_pe_hostfile(str(f))


def test_no_allocation_outside_a_job():
    assert allocation_hosts({"HOME": "/root"}) is None
    assert allocation_hosts({"SLURM_JOB_ID": "3"}) is None   # sbatch without a node list: not an allocation


# --- job scripts -------------------------------------------------------------------------------

def request(**kw):
    args = dict(count=3, server="10.0.0.5:9010", secret_file="/home/u/.local/share/treadle/secret", cpus=2,
                time="90", mem="4G", partition="short", account="proj1", name="treadle-x", log_dir="/home/u/logs",
                worker="/opt/treadle/bin/treadle-worker", pythonpath="/home/u/lib", workdir="/home/u/run 1")
    args.update(kw)
    return JobRequest(**args)


def test_slurm_script():
    script = launcher_for("slurm").script(request())
    assert script.startswith("#!/bin/bash\n")
    for line in ["#SBATCH --job-name=treadle-x", "#SBATCH --array=1-3", "#SBATCH --cpus-per-task=2",
                 "#SBATCH --time=90", "#SBATCH --mem=4G", "#SBATCH --partition=short", "#SBATCH --account=proj1",
                 "#SBATCH --output=/home/u/logs/%x-%A_%a.out", "export PYTHONPATH=/home/u/lib",
                 "cd '/home/u/run 1' || exit 1"]:
        assert line in script.splitlines()
    last = script.splitlines()[-1]
    assert last == ("exec /opt/treadle/bin/treadle-worker 10.0.0.5:9010 --cpus 2 --python /usr/bin/python3 "
                    "--secret-file /home/u/.local/share/treadle/secret "
                    '--job "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"')


def test_sge_script():
    lines = launcher_for("sge").script(request(time="1-02:03:04")).splitlines()
    for line in ["#$ -N treadle-x", "#$ -t 1-3", "#$ -pe smp 2", "#$ -l h_rt=26:03:04", "#$ -l h_vmem=4G",
                 "#$ -q short", "#$ -A proj1", "#$ -o /home/u/logs/$JOB_NAME-$JOB_ID.$TASK_ID.out", "#$ -j y"]:
        assert line in lines
    assert lines[-1].endswith('--job "${JOB_ID}.${SGE_TASK_ID}"')
    assert not any(l.startswith("#$ -pe") for l in launcher_for("sge").script(request(cpus=1)).splitlines())


def test_pbs_script_and_options():
    pbs = launcher_for("pbs")
    opts = pbs.options(request(), index=2)
    assert opts[:6] == ["-N", "treadle-x", "-j", "oe", "-l", "nodes=1:ppn=2,walltime=1:30:00,mem=4G"]
    assert opts[6:10] == ["-q", "short", "-A", "proj1"]
    assert opts[-2] == "-o" and opts[-1].startswith("/home/u/logs/treadle-x-") and opts[-1].endswith("-2.out")
    lines = pbs.script(request()).splitlines()
    assert "#PBS -l nodes=1:ppn=2,walltime=1:30:00,mem=4G" in lines and "#PBS -N treadle-x" in lines
    assert lines[-1].endswith('--job "${PBS_JOBID:-$SLURM_JOB_ID}"')


def test_the_secret_is_never_in_a_script(monkeypatch):
    monkeypatch.setenv("TREADLE_SECRET", "do-not-print-me")
    for name in ("slurm", "sge", "pbs"):
        script = launcher_for(name).script(request())
        assert "do-not-print-me" not in script
        assert "unset TREADLE_SECRET TREADLE_SECRET_FILE" in script


def test_odd_values_are_quoted_or_refused():
    script = launcher_for("slurm").script(request(pythonpath="/a b/$(rm -rf x)"))
    assert "export PYTHONPATH='/a b/$(rm -rf x)'" in script
    for bad in [dict(time="an hour"), dict(mem="lots"), dict(partition="a b"), dict(account="x;y"), dict(count=0),
                dict(cpus=0), dict(secret_file="relative/secret"), dict(name="a\nb")]:
        with pytest.raises(ValueError):
            request(**bad)


@pytest.mark.parametrize("text, hms", [("90", "1:30:00"), ("5:30", "0:05:30"), ("2:00:00", "2:00:00"),
                                       ("1-0", "24:00:00"), ("2-3:04", "51:04:00")])
def test_walltime_forms(text, hms):
    assert time_hms(text) == hms


# --- scheduler outputs -------------------------------------------------------------------------

def test_scontrol_jobs_with_array_tasks_pending_and_ended():
    text = ("JobId=12 ArrayJobId=10 ArrayTaskId=2 JobName=t JobState=CANCELLED Reason=None ExitCode=0:15 "
            "BatchHost=vm\n"
            "JobId=11 ArrayJobId=10 ArrayTaskId=1 JobState=RUNNING Reason=None ExitCode=0:0 BatchHost=vm\n"
            "JobId=10 ArrayJobId=10 ArrayTaskId=3-4,6%2 JobState=PENDING Reason=Resources ExitCode=0:0 "
            "BatchHost=(null)\n"
            "JobId=20 JobState=TIMEOUT Reason=TimeLimit ExitCode=0:0\n")
    jobs = parse_scontrol_jobs(text)
    assert sorted(jobs) == ["10_1", "10_2", "10_3", "10_4", "10_6", "20"]
    assert jobs["10_2"].ended and jobs["10_2"].describe() == "CANCELLED (killed by signal 15)"
    assert not jobs["10_1"].ended and jobs["10_1"].host == "vm"
    assert jobs["10_6"].describe() == "PENDING (Resources)"
    assert jobs["20"].ended and jobs["20"].describe() == "TIMEOUT (TimeLimit)"


def test_scontrol_jobs_slurm_will_not_start():
    """Reasons SLURM gives for a request it will not run as configured (job_reason_codes):
    the job is told as never starting; a full queue or an aggregate limit is waited for."""
    line = "JobId={0} JobState=PENDING Reason={1} ExitCode=0:0 BatchHost=(null)\n"
    reasons = {"PartitionConfig": True, "PartitionTimeLimit": True, "BadConstraints": True,
               "QOSMaxCpuPerJobLimit": True, "AssocMaxWallDurationPerJobLimit": True, "QOSMinCpuNotSatisfied": True,
               "Resources": False, "Priority": False, "AssocGrpCpuLimit": False, "QOSMaxJobsPerUserLimit": False,
               "JobHeldUser": False, "None": False}
    jobs = parse_scontrol_jobs("".join(line.format(i, r) for i, r in enumerate(reasons)))
    for i, (reason, never) in enumerate(reasons.items()):
        assert bool(jobs[str(i)].never_starts) == never, (reason, jobs[str(i)].never_starts)
    assert jobs["0"].never_starts == "its request violates a limit of the partition"
    running = parse_scontrol_jobs("JobId=7 JobState=RUNNING Reason=PartitionConfig BatchHost=vm\n")
    assert running["7"].never_starts == ""
    # treadle-cluster keeps the last state seen in its state file
    assert JobState.from_json(jobs["0"].to_json()).never_starts == jobs["0"].never_starts


def test_qstat_and_qacct():
    qstat = ("job-ID  prior   name       user         state submit/start at     queue                          "
             "slots ja-task-ID\n" + "-" * 80 + "\n"
             "     31 0.55500 treadle-x  root         r     12/06/2026 03:20:01 all.q@vm                           1 1\n"
             "     31 0.55500 treadle-x  root         qw    12/06/2026 03:20:00                                    1 2\n"
             "     32 0.55500 single     root         dr    12/06/2026 03:20:01 all.q@vm                           1\n")
    jobs = parse_qstat(qstat)
    assert jobs["31.1"].state == "r" and jobs["31.1"].host == "vm"
    assert jobs["31.2"].state == "qw" and not jobs["31.2"].ended
    assert jobs["32.1"].state == "dr"
    assert not jobs["31.2"].never_starts
    errored = parse_qstat("     33 0.55500 treadle-x  root         Eqw   12/06/2026 03:20:00"
                          "                                    1 1\n")
    assert errored["33.1"].never_starts.startswith("Grid Engine put it in an error state (qmod -cj 33")
    qacct = ("==============================================================\n"
             "qname        all.q\nhostname     vm\njobnumber    31\ntaskid       2\nfailed       100 : assumedly after job\n"
             "exit_status  137                 (Killed)\n"
             "==============================================================\n"
             "qname        all.q\nhostname     vm\njobnumber    31\ntaskid       1\nfailed       0\n"
             "exit_status  0\n")
    ended = parse_qacct(qacct)
    assert ended["31.2"].ended and "failed 100" in ended["31.2"].reason
    assert ended["31.1"].ended and ended["31.1"].reason == ""


def test_qstat_full():
    text = ("Job Id: 55\n\tJob_Name = treadle-x\n\tjob_state = R\n\texec_host = vm/0\n"
            "Job Id: 56.server\n    job_state = C\n    exit_status = 271\n")
    jobs = parse_qstat_full(text)
    assert jobs["55"].state == "R" and jobs["55"].host == "vm" and not jobs["55"].ended
    assert jobs["56.server"].ended and jobs["56.server"].reason == "exit status 271"


def test_job_of_worker():
    assert job_of_worker("node3:1234 (job 77_2)") == "77_2"
    assert job_of_worker("node3:1234") is None


# --- the secret file ---------------------------------------------------------------------------

def test_secret_file_rules(tmp_path, monkeypatch):
    monkeypatch.delenv("TREADLE_SECRET_FILE", raising=False)
    monkeypatch.setenv("TREADLE_SECRET", "only-in-the-environment")
    with pytest.raises(ValueError, match="worker jobs read it from a file"):
        secret_file_path()
    f = tmp_path / "secret"
    f.write_text("s\n")
    os.chmod(f, 0o644)
    with pytest.raises(ValueError, match="can be read by other users"):
        secret_file_path(str(f))
    os.chmod(f, 0o600)
    assert secret_file_path(str(f)) == str(f)
    monkeypatch.setenv("TREADLE_SECRET_FILE", str(f))
    assert secret_file_path() == str(f)
    monkeypatch.delenv("TREADLE_SECRET_FILE")
    monkeypatch.delenv("TREADLE_SECRET")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    made = secret_file_path()
    assert made == str(tmp_path / "data" / "treadle" / "secret")
    assert stat.S_IMODE(os.stat(made).st_mode) == 0o600
