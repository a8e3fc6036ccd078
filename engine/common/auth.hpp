#pragma once
// Shared-secret authentication for every treadle socket.
//
// Pickled functions are code, so only peers that know the secret may connect. On loopback we
// use ZeroMQ's PLAIN mechanism with a ZAP handler that compares the password against the
// secret; everywhere else CURVE, with keys derived from the secret (curve.hpp), so nothing
// secret crosses a network in clear. Either way a peer without the secret fails the handshake
// and never reaches the server's or worker's event loop.
//
// Where the secret comes from (first match wins):
//   1. an explicit file (--secret-file),
//   2. $TREADLE_SECRET (the secret itself), 3. $TREADLE_SECRET_FILE,
//   4. ${XDG_DATA_HOME:-~/.local/share}/treadle/secret, created 0600 with random bytes when
//      missing, so same-user processes on one host need no configuration (like Jupyter's
//      connection files).
#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "curve.hpp"
#include "log_throttle.hpp"

namespace treadle {

std::string default_secret_path();
std::string load_secret(const std::string& explicit_file = {});
// Takes $TREADLE_SECRET and $TREADLE_SECRET_FILE out of this process's environment, their
// values wiped in place first (so /proc/PID/environ no longer shows them either): a worker calls
// it once it has the secret, so no task, executor or program it starts inherits it. Call it
// before other threads start (setenv and getenv are not thread-safe).
void forget_secret_variables();

// For the connecting side (DEALER to a server or a worker's data port), before it connects to
// `endpoint` ("tcp://host:port"): the mechanism is the one that endpoint's listener uses.
void authenticate_as_client(zmq::socket_t& socket, const std::string& secret, const std::string& endpoint);
// For the listening side, before it binds to `bind_host`; needs a ZapAuthenticator alive in
// the same context.
void require_authentication(zmq::socket_t& socket, const std::string& secret, const std::string& bind_host);

// Answers ZeroMQ's authentication requests for one context on a thread of its own.
class ZapAuthenticator {
 public:
  ZapAuthenticator(zmq::context_t& context, std::string secret);
  ~ZapAuthenticator();
  ZapAuthenticator(const ZapAuthenticator&) = delete;
  ZapAuthenticator& operator=(const ZapAuthenticator&) = delete;
  std::uint64_t refused() const { return refused_.load(); }

 private:
  void serve();
  zmq::context_t& context_;
  std::string secret_;
  std::string peer_public_key_;  // CURVE: the key every peer with the secret presents
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> refused_{0};
  log::Throttle refusals_{"refused handshakes"};  // a peer retrying with a wrong secret
  std::unique_ptr<zmq::socket_t> socket_;
  std::thread thread_;
};

}  // namespace treadle
