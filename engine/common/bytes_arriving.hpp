#pragma once
// How long ago a TCP connection last brought bytes: a peer whose connection is still bringing
// them is alive, although none of its messages has arrived whole for a while.
//
// A peer's messages arrive in order on its one connection, so its heartbeats wait behind a big
// message it is sending (a worker uploading a 300 MB result for a client's fetch): on a loaded
// machine that message took longer than the worker timeout to arrive, the worker was declared
// lost for want of a heartbeat, its result computed again elsewhere and uploaded again, and lost
// again (tryout10, finding 1). The kernel knows when the connection last received data.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdint>

namespace treadle {

// Milliseconds since the TCP connection on `fd` last received data, or -1 if unknown (not a
// TCP socket, closed).
inline std::int64_t ms_since_bytes_arrived(int fd) {
  if (fd < 0) return -1;
  tcp_info info{};
  socklen_t length = sizeof info;
  if (::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) != 0) return -1;
  return info.tcpi_last_data_recv;
}

}  // namespace treadle
