#include "listening_sockets.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace treadle {
namespace {

bool is_loopback_v4(const std::uint32_t* address) { return (ntohl(address[0]) >> 24) == 127; }

bool is_loopback_v6(const std::uint32_t* address) {
  static const in6_addr any_loopback = IN6ADDR_LOOPBACK_INIT;
  if (std::memcmp(address, &any_loopback, sizeof any_loopback) == 0) return true;
  // ::ffff:127.x.x.x
  return address[0] == 0 && address[1] == 0 && address[2] == htonl(0xffff) && is_loopback_v4(address + 3);
}

// One sock_diag dump of `family`'s TCP sockets listening on `port` (the kernel filters by port
// when only listeners are asked for). Nothing when the kernel cannot answer.
std::optional<bool> listening_beyond_loopback_diag(int family, int port) {
  int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return std::nullopt;
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.request.sdiag_family = static_cast<std::uint8_t>(family);
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = 1u << TCP_LISTEN;
  message.request.id.idiag_sport = htons(static_cast<std::uint16_t>(port));
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    ::close(fd);
    return std::nullopt;
  }
  std::optional<bool> beyond;
  alignas(nlmsghdr) char buffer[8192];
  for (bool done = false; !done;) {
    const ssize_t received = ::recv(fd, buffer, sizeof buffer, 0);
    if (received <= 0) break;
    int left = static_cast<int>(received);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buffer); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE) {
        done = true;
        if (!beyond) beyond = false;
        break;
      }
      if (h->nlmsg_type == NLMSG_ERROR) {
        done = true;
        break;
      }
      const auto* socket = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      if (ntohs(socket->id.idiag_sport) != port) continue;  // older kernels may not filter
      const bool loopback = socket->idiag_family == AF_INET ? is_loopback_v4(socket->id.idiag_src)
                                                            : is_loopback_v6(socket->id.idiag_src);
      if (!loopback) beyond = true;
    }
  }
  ::close(fd);
  return beyond;
}

// The same from the kernel's tables of every TCP socket ("local_address" hex, state 0A = LISTEN).
bool listening_beyond_loopback_proc(int port) {
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      if (!(fields >> slot >> local >> remote >> state) || state != "0A") continue;
      auto colon = local.rfind(':');
      if (colon == std::string::npos || std::stoi(local.substr(colon + 1), nullptr, 16) != port) continue;
      const std::string address = local.substr(0, colon);
      // IPv4 as little-endian hex: 127.x.x.x ends in "7F"; IPv6 ::1 and ::ffff:127.x.x.x.
      bool loopback = address.size() == 8 ? address.substr(6) == "7F"
                                          : address == "00000000000000000000000001000000" ||
                                                (address.substr(0, 24) == "0000000000000000FFFF0000" &&
                                                 address.substr(30) == "7F");
      if (!loopback) return true;
    }
  }
  return false;
}

}  // namespace

bool listening_beyond_loopback(int port) {
  std::optional<bool> v4 = listening_beyond_loopback_diag(AF_INET, port);
  if (v4 && *v4) return true;
  std::optional<bool> v6 = v4 ? listening_beyond_loopback_diag(AF_INET6, port) : std::nullopt;
  if (!v4 || !v6) return listening_beyond_loopback_proc(port);
  return *v6;
}

}  // namespace treadle
