"""SCOOP's rules for hosts and -n (docs/scoop.md, "Hosts"), as python3 -m treadle.scoop applies them."""

import pytest

from treadle.scoop.__main__ import hosts_before_program, parse
from treadle.scoop.launcher import choose_hosts, distribute, hosts_of_list

HOSTS = [("a", 4), ("b", 1), ("c", 2)]


@pytest.mark.parametrize("total, expected", [
    (None, [("a", 4), ("b", 1), ("c", 2)]),
    (7, [("a", 4), ("b", 1), ("c", 2)]),
    (3, [("a", 3)]),                         # batches by host: later hosts get none
    (5, [("a", 4), ("b", 1)]),
    (6, [("a", 4), ("b", 1), ("c", 1)]),
    (8, [("a", 5), ("b", 1), ("c", 2)]),     # round robin past the listed total
    (10, [("a", 5), ("b", 2), ("c", 3)]),
    (11, [("a", 6), ("b", 2), ("c", 3)]),
])
def test_n_follows_scoop(total, expected):
    assert distribute(HOSTS, total) == expected


def test_n_must_be_positive():
    with pytest.raises(ValueError, match="-n"):
        distribute(HOSTS, 0)


def test_a_host_named_twice_gets_two_workers():
    assert hosts_of_list(["machine_a", "machine_a", "machine_b", "machine_b"]) == [("machine_a", 2), ("machine_b", 2)]


def test_host_list_ends_at_the_program():
    assert hosts_before_program(["--host", "a", "a", "b", "prog.py", "x"]) == (["prog.py", "x"], ["a", "a", "b"])
    assert hosts_before_program(["-n", "2", "prog.py"]) == (["-n", "2", "prog.py"], None)


def test_hosts_come_from_the_hostfile_or_a_batch_allocation(tmp_path):
    hostfile = tmp_path / "hosts"
    hostfile.write_text("hostname_or_ip 4\nother_hostname\nthird_hostname 2\n")
    args = parse(["--hostfile", str(hostfile), "-n", "9", "prog.py"])
    assert choose_hosts(args, {}, cores={"other_hostname": 2}.get) == [("hostname_or_ip", 5), ("other_hostname", 2),
                                                                    ("third_hostname", 2)]
    nodefile = tmp_path / "nodes"
    nodefile.write_text("n1\nn1\nn2\n")
    assert choose_hosts(parse(["prog.py"]), {"PBS_NODEFILE": str(nodefile)}) == [("n1", 2), ("n2", 1)]
    assert choose_hosts(parse(["-n", "2", "prog.py"]), {}) == [("127.0.0.1", 2)]


# -- a host without a count: one worker per core of that host -------------------------------------

CORES = {"big": 8, "small": 2, "127.0.0.1": 4}


@pytest.mark.parametrize("hostfile, n, expected", [
    ("big\nsmall 1\n", None, [("big", 8), ("small", 1)]),
    ("big\nsmall\n", None, [("big", 8), ("small", 2)]),
    ("big\nsmall\n", 9, [("big", 8), ("small", 1)]),            # batches by host
    ("big\nsmall\n", 3, [("big", 3)]),
    ("big 1\nsmall\n", 7, [("big", 3), ("small", 4)]),          # round robin past the 3 listed
    ("small 1\n127.0.0.1\n", 5, [("small", 1), ("127.0.0.1", 4)]),
])
def test_hostfile_lines_without_a_count_get_the_hosts_cores(tmp_path, hostfile, n, expected):
    path = tmp_path / "hosts"
    path.write_text(hostfile)
    argv = ["--hostfile", str(path)] + (["-n", str(n)] if n else []) + ["prog.py"]
    asked = []

    def cores(host):
        asked.append(host)
        return CORES[host]
    assert choose_hosts(parse(argv), {}, cores=cores) == expected
    assert asked == [line for line in hostfile.splitlines() if " " not in line]   # only those without a count


def test_parse_hostfile_tells_no_count_from_one(tmp_path):
    from treadle.remote import parse_hostfile
    path = tmp_path / "hosts"
    path.write_text("a\nb 1\n")
    assert parse_hostfile(str(path), default=None) == [("a", None), ("b", 1)]
    assert parse_hostfile(str(path)) == [("a", 1), ("b", 1)]   # other callers keep "1 by default"


def test_this_machine_without_a_count_gets_one_worker_per_core(tmp_path):
    import os
    from treadle.scoop.launcher import host_cores
    assert host_cores("127.0.0.1") == host_cores("localhost") == (os.cpu_count() or 1)


# -- inside a batch allocation, the scheduler's hosts ----------------------------------------------

def test_slurm_allocation_bracket_syntax():
    environ = {"SLURM_JOB_ID": "42", "SLURM_NODELIST": "node[01-02,07],gpu1", "SLURM_TASKS_PER_NODE": "2(x3),1"}
    assert choose_hosts(parse(["prog.py"]), environ) == [("node01", 2), ("node02", 2), ("node07", 2), ("gpu1", 1)]
    assert choose_hosts(parse(["-n", "3", "prog.py"]), environ) == [("node01", 2), ("node02", 1)]


def test_slurm_allocation_without_tasks_per_node_gets_one_per_node():
    environ = {"SLURM_JOB_ID": "42", "SLURM_JOB_NODELIST": "c[1-3]"}
    assert choose_hosts(parse(["prog.py"]), environ) == [("c1", 1), ("c2", 1), ("c3", 1)]


def test_pbs_and_grid_engine_allocations(tmp_path):
    nodefile = tmp_path / "nodes"
    nodefile.write_text("n1\nn2\nn1\nn2\nn3\n")
    assert choose_hosts(parse(["prog.py"]), {"PBS_NODEFILE": str(nodefile)}) == [("n1", 2), ("n2", 2), ("n3", 1)]
    pe = tmp_path / "pe_hostfile"
    pe.write_text("sge1.example 4 all.q@sge1 UNDEFINED\nsge2.example 2 all.q@sge2 UNDEFINED\n")
    assert choose_hosts(parse(["-n", "8", "prog.py"]), {"PE_HOSTFILE": str(pe)}) == [("sge1.example", 5),
                                                                                     ("sge2.example", 3)]


def test_given_hosts_win_over_the_allocation(tmp_path):
    environ = {"SLURM_JOB_ID": "42", "SLURM_NODELIST": "node[01-02]"}
    args = parse(["prog.py"])
    args.host = ["x", "x"]
    assert choose_hosts(args, environ) == [("x", 2)]


def test_a_malformed_allocation_is_a_clear_error():
    with pytest.raises(ValueError, match="SLURM_TASKS_PER_NODE"):
        choose_hosts(parse(["prog.py"]), {"SLURM_JOB_ID": "1", "SLURM_NODELIST": "a[1-2]", "SLURM_TASKS_PER_NODE": "x"})
    with pytest.raises(ValueError, match="unmatched"):
        choose_hosts(parse(["prog.py"]), {"SLURM_JOB_ID": "1", "SLURM_NODELIST": "a[1-2"})


def test_a_hostfile_line_may_use_slurms_bracket_syntax(tmp_path):
    path = tmp_path / "hosts"
    path.write_text("node[01-02] 2\ngpu[1,3]\n")
    assert choose_hosts(parse(["--hostfile", str(path), "prog.py"]), {}, cores={"gpu1": 4, "gpu3": 8}.get) == [
        ("node01", 2), ("node02", 2), ("gpu1", 4), ("gpu3", 8)]
    path.write_text("node[01-\n")
    with pytest.raises(ValueError, match="unmatched"):
        choose_hosts(parse(["--hostfile", str(path), "prog.py"]), {})
