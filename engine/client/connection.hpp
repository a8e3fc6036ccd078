#pragma once
// The client side of the protocol, used by the Python package (engine/python/module.cpp).
//
// A Connection owns an I/O thread that talks to the server: it sends requests, matches
// replies to them, and keeps a heartbeat going so the server knows the client is alive
// while the caller waits for hours. Callers block on a Reply with a timeout, so the
// Python side can check for Ctrl-C between slices.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "../common/protocol.hpp"

namespace treadle {

// The server refused a request (bad plan, unknown future...) or could not be reached.
struct ServerError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The hello's wait was ended by the caller's `interrupted` (a Ctrl-C, for the Python side).
struct ConnectInterrupted : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The answer to one request: one message, or for a fetch, data messages until every
// requested object arrived (or a failure).
class Reply {
 public:
  bool wait_for(std::chrono::milliseconds timeout);  // true when complete
  // After completion: the messages received, in order (the last may be "failed"/"error").
  std::vector<Message>& messages() { return messages_; }

 private:
  friend class Connection;
  void add(Message&& m);
  void fail(const std::string& why);
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<Message> messages_;
  std::size_t objects_expected_ = 0;
  std::size_t objects_received_ = 0;
  bool complete_ = false;
};

class Connection {
 public:
  // Connects and says hello; throws ServerError if the server refuses the secret, or does not
  // welcome the client within `timeout`, saying how far it got (nothing answered; something
  // accepted the connection but no ZeroMQ peer answered; a server that did not welcome).
  // A server whose connection closed and whose port refuses reconnects (it stopped: killed or
  // ended) counts as lost at once (a few hundred ms); one whose connection closed otherwise (its
  // host stopped acknowledging, after `server_timeout`) once it stayed silent for `server_timeout`:
  // pending and later calls fail. While its connection is open it is alive, however long it is silent (busy with a
  // huge plan, stopped): see server_silent(). The client's own pauses (a stopped process, a laptop
  // asleep) do not count as its silence.
  // `interrupted`, if given, is asked every 50 ms while the hello waits: true ends the wait
  // (ConnectInterrupted), so a caller can honour Ctrl-C without waiting out `timeout`.
  Connection(const std::string& host, int port, const std::string& secret, const std::string& name,
             std::chrono::milliseconds timeout = std::chrono::seconds(10),
             std::chrono::milliseconds server_timeout = std::chrono::seconds(12),
             const std::function<bool()>& interrupted = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends a request (its "req" field is set here). `objects` > 0: a fetch of that many objects.
  std::shared_ptr<Reply> request(Message&& m, std::size_t objects = 0);
  // Sends without expecting an answer (bye).
  void post(Message&& m);
  // Drops the client's hold on these objects (op "release", no answer). Releases wait and go as
  // one message: with the next other message (so the server sees everything in the order it
  // was asked), after `release_delay` at most, or at once when the batch is large. A client that
  // drops 10,000 futures one by one sends a few messages, not 10,000.
  void release(const std::vector<std::uint64_t>& ids, bool when_done);
  static constexpr std::chrono::milliseconds release_delay{5};
  // Says bye and stops the I/O thread. What is unsent then leaves while the socket closes (its
  // linger, up to 2 s) if the server's connection is open; with the connection closed (a server
  // gone) it is dropped, so the close never waits for a server that is not there.
  void close();
  // The linger (ms) close() left the socket with: 2000, or 0 for a closed connection (-1 before).
  int close_linger_ms() const;
  bool connected() const;
  // Why the connection ended ("lost the connection to the treadle server at HOST:PORT: ..."),
  // as every call failed by it says; empty while connected.
  std::string lost_reason() const;
  // How long the server has been silent, its connection open (0 before its welcome): a wait
  // may say so after a while, and go on.
  std::chrono::milliseconds server_silent() const;
  // The name of the server's run that welcomed this connection (another after a restart).
  const std::string& server_instance() const;
  // Blocks until an event arrived (true) or the timeout passed.
  bool wait_for_events(std::chrono::milliseconds timeout);
  // Messages the server sent unasked ("output": what tasks print; "settled": watched
  // futures that ended), oldest first.
  std::vector<Message> take_events();
  bool has_events() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace treadle
