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
    assert choose_hosts(args, {}) == [("hostname_or_ip", 5), ("other_hostname", 2), ("third_hostname", 2)]
    nodefile = tmp_path / "nodes"
    nodefile.write_text("n1\nn1\nn2\n")
    assert choose_hosts(parse(["prog.py"]), {"PBS_NODEFILE": str(nodefile)}) == [("n1", 2), ("n2", 1)]
    assert choose_hosts(parse(["-n", "2", "prog.py"]), {}) == [("127.0.0.1", 2)]
