#pragma once
// Whether a connecting socket's connection to its peer is open, from the socket's monitor.
//
// A peer that is silent but whose connection is open is alive: its process exists (a process
// that dies has its connections closed by the kernel) and its host answers TCP (a host that
// stops acknowledging what we send has the connection closed after `tcp_maxrt`, set here). It
// may be busy for a long while (a million-task plan on a loaded machine) or stopped (SIGSTOP,
// a debugger): waiting for it is right, and giving up on it is the caller's choice (Ctrl-C). So
// clients and workers count a peer's silence as its loss only while its connection is closed.
//
// A connection that closed and whose reconnects then fail at once (refused: nothing listens on
// the port any more) is a peer that stopped: its process is gone, there is nothing to wait for.
// (A host that stopped answering leaves reconnects pending instead: that is the silence above.)
//
// The monitor also tells how a connection attempt went, for the error when no welcome came:
// nothing accepted it, it was accepted but no ZeroMQ handshake followed (another program on the
// port, a stopped process), or the handshake was refused (a wrong secret).
#include <zmq.hpp>

#include <cstdint>
#include <string>

namespace treadle {

class ConnectionWatch {
 public:
  // Starts watching `socket` (before its connect). `dead_peer_ms`: a connection whose sent bytes
  // go unacknowledged that long is closed (TCP_USER_TIMEOUT).
  ConnectionWatch(zmq::context_t& context, zmq::socket_t& socket, int dead_peer_ms, std::int64_t now_ms);
  ~ConnectionWatch();
  ConnectionWatch(const ConnectionWatch&) = delete;
  ConnectionWatch& operator=(const ConnectionWatch&) = delete;

  // For zmq::poll; then on_readable() when it is readable.
  zmq::pollitem_t poll_item();
  void on_readable(std::int64_t now_ms);

  // The handshake succeeded and the connection has not closed since.
  bool open() const { return open_; }
  // Steady ms since which it is not open (the watch's start, or the last close).
  std::int64_t closed_since() const { return closed_since_; }
  // What the attempts so far came to: a TCP connection accepted, a handshake refused for the
  // credentials (a wrong secret), a handshake that failed otherwise (not a ZeroMQ peer).
  bool accepted() const { return accepted_; }
  bool refused_credentials() const { return refused_credentials_; }
  bool handshake_failed() const { return handshake_failed_; }
  // Reconnect attempts that failed (ZeroMQ closed their sockets unconnected: refused, or the host
  // unreachable) since the connection last closed; 0 while open or before it first opened.
  int failed_reconnects() const { return failed_reconnects_; }

 private:
  zmq::socket_t& watched_;
  zmq::socket_t events_;
  bool open_ = false;
  bool accepted_ = false;
  bool refused_credentials_ = false;
  bool handshake_failed_ = false;
  bool was_open_ = false;
  int failed_reconnects_ = 0;
  std::int64_t closed_since_;
};

}  // namespace treadle
