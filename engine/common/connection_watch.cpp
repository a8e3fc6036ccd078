#include "connection_watch.hpp"

#include <atomic>
#include <cstring>
#include <stdexcept>

namespace treadle {

namespace {
std::string monitor_endpoint() {
  static std::atomic<std::uint64_t> next{0};
  return "inproc://treadle-connection-watch-" + std::to_string(next++);
}
}  // namespace

ConnectionWatch::ConnectionWatch(zmq::context_t& context, zmq::socket_t& socket, int dead_peer_ms, std::int64_t now_ms)
    : watched_(socket), events_(context, zmq::socket_type::pair), closed_since_(now_ms) {
  socket.set(zmq::sockopt::tcp_maxrt, dead_peer_ms);
  const std::string endpoint = monitor_endpoint();
  if (zmq_socket_monitor(socket.handle(), endpoint.c_str(),
                         ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_CLOSED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
                             ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                             ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) != 0)
    throw std::runtime_error(std::string("cannot monitor a connection: ") + zmq_strerror(zmq_errno()));
  events_.set(zmq::sockopt::linger, 0);
  events_.connect(endpoint);
}

ConnectionWatch::~ConnectionWatch() { zmq_socket_monitor(watched_.handle(), nullptr, 0); }

zmq::pollitem_t ConnectionWatch::poll_item() { return {static_cast<void*>(events_), 0, ZMQ_POLLIN, 0}; }

void ConnectionWatch::on_readable(std::int64_t now_ms) {
  while (true) {
    zmq::message_t event, address;
    if (!events_.recv(event, zmq::recv_flags::dontwait)) return;
    if (event.more()) (void)events_.recv(address);
    if (event.size() < 6) continue;
    std::uint16_t kind;
    std::memcpy(&kind, event.data<char>(), sizeof kind);
    switch (kind) {
      case ZMQ_EVENT_CONNECTED: accepted_ = true; break;
      case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        open_ = was_open_ = true;
        failed_reconnects_ = 0;
        break;
      // A connecting socket is closed unconnected when its attempt failed (an established
      // connection ends with DISCONNECTED instead).
      case ZMQ_EVENT_CLOSED:
        if (was_open_ && !open_) ++failed_reconnects_;
        break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: refused_credentials_ = true; break;
      case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
      case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: handshake_failed_ = true; break;
      case ZMQ_EVENT_DISCONNECTED:
        if (open_) closed_since_ = now_ms;
        open_ = false;
        failed_reconnects_ = 0;
        break;
      default: break;
    }
  }
}

}  // namespace treadle
