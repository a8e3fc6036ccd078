#pragma once
// The treadle server: accepts plans from clients and runs them on workers.
//
// A library class with an event loop on a thread of its own, so the kernel can embed it;
// the treadle-server program runs one standalone. Everything it does happens on that thread.
#include <memory>
#include <string>

namespace treadle {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 0;                  // 0: any free port (see Server::port())
  std::string secret;            // empty: load_secret() (env or the per-user secret file)
  int worker_timeout_ms = 3000;  // silence after which a worker counts as lost
  // A client silent this long is away: its futures are kept and what its tasks print is held
  // (it may be paused: a laptop asleep), unless its connection closed (it died): then it is gone.
  int client_timeout_ms = 15000;
  int client_grace_s = 300;      // an away client's session ends after this much silence
  // A task only a worker that left could run (its cpus, its type) waits this long for a worker
  // that fits to join before it fails (a replacement, a restart).
  int worker_grace_s = 30;
};

class Server {
 public:
  explicit Server(ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();  // binds and starts the loop; throws std::runtime_error if it cannot bind
  void stop();   // idempotent; returns when the loop has ended
  void wait();   // blocks until the loop ends (after stop() from another thread or a signal)
  bool running() const;
  int port() const;
  const std::string& host() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace treadle
