#pragma once
// Which addresses a TCP port is listened on, from this host's (this network namespace's) kernel.
//
// Asked once per peer a process connects to (curve.hpp), so on a worker it lies on the path of
// its first fetch from each peer. The kernel's sock_diag answers for the listening sockets of
// one port only; /proc/net/tcp, the fallback, lists every socket of the host (600 on the bench
// machine, 7-9 ms of the fetching worker's CPU; bench/README.md, workload 5).
namespace treadle {

// Is some socket listening on `port` bound to an address other than loopback?
bool listening_beyond_loopback(int port);

}  // namespace treadle
