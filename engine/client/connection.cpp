#include "../common/clock.hpp"
#include "connection.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <random>
#include <thread>
#include <unordered_map>

#include "../common/auth.hpp"
#include "../common/connection_watch.hpp"
#include "../data/wire.hpp"

namespace treadle {

namespace {
constexpr int heartbeat_ms = 1000;
// The I/O thread wakes at least once per heartbeat; a longer gap means this process was not
// running (stopped, or the machine asleep): then the server's silence is not the server's fault.
constexpr int paused_ms = 3 * heartbeat_ms;
// A server whose connection closed and whose reconnects failed this often (100 ms apart) stopped.
constexpr int refused_reconnects_lost = 3;
// A batch of releases this large goes at once (the server handles it in one loop turn).
constexpr std::size_t release_batch_max = 65536;

// The client's own routing id, so that a reconnected socket is still the same session for the
// server. ZeroMQ reserves ids that begin with a zero byte.
std::string session_id() {
  std::random_device random;
  std::string id = "client-";
  for (int i = 0; i < 4; ++i) {
    char part[9];
    std::snprintf(part, sizeof part, "%08x", random());
    id += part;
  }
  return id;
}
}  // namespace

bool Reply::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mutex_);
  return cv_.wait_for(lock, timeout, [this] { return complete_; });
}

void Reply::add(Message&& m) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (complete_) return;
  std::string op = m.op();
  if (op == op::data) {
    objects_received_ += count_objects(m.header);
    messages_.push_back(std::move(m));
    complete_ = objects_received_ >= objects_expected_;
  } else {
    messages_.push_back(std::move(m));
    complete_ = true;
  }
  if (complete_) cv_.notify_all();
}

void Reply::fail(const std::string& why) {
  Message m(json{{"op", op::error}, {"message", why}});
  std::lock_guard<std::mutex> lock(mutex_);
  if (complete_) return;
  messages_.push_back(std::move(m));
  complete_ = true;
  cv_.notify_all();
}

struct Connection::Impl {
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::dealer};
  int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  std::mutex mutex;
  std::deque<Message> outgoing;
  std::unordered_map<std::uint64_t, std::shared_ptr<Reply>> pending;
  std::vector<Message> events;
  std::atomic<bool> has_events{false};
  std::condition_variable event_arrived;
  std::uint64_t next_req = 1;
  std::atomic<bool> stop{false};
  std::atomic<bool> alive{true};
  std::string lost_reason;
  std::string server_instance;
  std::string address;  // host:port, for messages
  std::int64_t server_timeout_ms = 12000;
  int close_linger_ms = -1;  // the linger the close left the socket with (-1: not closed)
  // Whether the connection is open (the I/O thread reads it); its findings are copied below for
  // the constructor's error and for the waits' line about a silent server.
  std::unique_ptr<ConnectionWatch> watch;
  std::atomic<bool> accepted{false}, refused_credentials{false}, handshake_failed{false}, handshake_done{false};
  std::atomic<std::int64_t> silent_ms{0};  // how long a welcoming server has been silent, its connection open
  std::thread thread;
  // Releases not sent yet (Connection::release): the ids of one message, which goes into
  // `outgoing` before any other message does, or at `release_due` (steady ms).
  std::vector<std::uint64_t> open_release;
  bool open_release_when_done = false;
  std::int64_t release_due = 0;

  ~Impl() { ::close(wake_fd); }
  void io();
  void fail_all(const std::string& why);
  void close_release();  // with `mutex` held
};

void Connection::Impl::close_release() {
  if (open_release.empty()) return;
  json header{{"op", op::release}, {"ids", open_release}};
  if (open_release_when_done) header["when_done"] = true;
  open_release.clear();
  outgoing.push_back(Message(std::move(header)));
}

Connection::Connection(const std::string& host, int port, const std::string& secret, const std::string& name,
                       std::chrono::milliseconds timeout, std::chrono::milliseconds server_timeout,
                       const std::function<bool()>& interrupted)
    : impl_(std::make_unique<Impl>()) {
  Impl& c = *impl_;
  c.server_timeout_ms = server_timeout.count();
  c.address = host + ":" + std::to_string(port);
  const std::string endpoint = "tcp://" + host + ":" + std::to_string(port);
  authenticate_as_client(c.socket, secret, endpoint);
  c.socket.set(zmq::sockopt::routing_id, session_id());
  // At close, the bye (and a release or cancel just before it) may wait this long to leave:
  // without it the server keeps the client's work until it notices the closed connection
  // (15 s), which a loaded machine made happen. A close whose connection is closed (a server
  // gone) drops it instead (Connection::close): nobody would take it.
  c.socket.set(zmq::sockopt::linger, 2000);
  // Never block the I/O thread: with no server (refused handshake, wrong secret) a send fails.
  c.socket.set(zmq::sockopt::sndtimeo, 1000);
  c.socket.set(zmq::sockopt::sndhwm, 0);
  c.socket.set(zmq::sockopt::rcvhwm, 0);
  // A host that stops acknowledging what we send (heartbeats every second) is gone: its
  // connection closes after the server timeout, and the silence counts from then on.
  c.watch = std::make_unique<ConnectionWatch>(c.context, c.socket, static_cast<int>(server_timeout.count()), steady_ms());
  c.socket.connect(endpoint);
  // Signals belong to the caller's threads (Python's Ctrl-C): the I/O thread is born with them
  // all blocked, so none interrupts a ZeroMQ call of its own (an EINTR there would throw).
  sigset_t all_signals, before;
  sigfillset(&all_signals);
  ::pthread_sigmask(SIG_SETMASK, &all_signals, &before);
  c.thread = std::thread([&c] { c.io(); });
  ::pthread_sigmask(SIG_SETMASK, &before, nullptr);
  auto reply = request(Message(json{{"op", op::hello}, {"role", "client"}, {"name", name}}));
  // Not welcomed: nothing to say goodbye to, so the socket's linger (which would hold the hello
  // and bye for 2 s more, as the socket closes) is dropped.
  auto give_up = [&c, this] {
    close();
    c.socket.set(zmq::sockopt::linger, 0);
  };
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool answered = false;
  while (!answered) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    answered = reply->wait_for(interrupted ? std::min(left, std::chrono::milliseconds(50)) : left);
    if (!answered && interrupted && interrupted()) {
      give_up();
      throw ConnectInterrupted("interrupted while waiting for the server's welcome");
    }
  }
  const std::string address = host + ":" + std::to_string(port);
  if (c.refused_credentials) {
    give_up();
    throw ServerError("the treadle server at " + address + " refused this client's secret (both sides need the "
                      "same one: $TREADLE_SECRET, $TREADLE_SECRET_FILE or ~/.local/share/treadle/secret)");
  }
  if (!answered) {
    const std::string within = std::to_string((timeout.count() + 500) / 1000) + " s";
    give_up();
    if (c.handshake_done)
      throw ServerError("the treadle server at " + address + " did not welcome this client within " + within +
                        " (stopped, or too busy to answer?); a longer timeout (the client's, or $TREADLE_CONNECT_TIMEOUT) "
                        "waits longer");
    if (c.accepted)
      throw ServerError(address + " accepted the connection but did not answer as a treadle server within " + within +
                        (c.handshake_failed ? " (its ZeroMQ handshake failed: another program on that port?)"
                                            : " (another program on that port, or a stopped server?)"));
    throw ServerError("no treadle server answered at " + address + " within " + within +
                      " (is the host reachable, and a server running there?)");
  }
  Message& m = reply->messages().front();
  if (m.op() != op::welcome) {
    std::string why = m.header.value("message", m.op());
    give_up();
    throw ServerError("the server refused this client: " + why);
  }
  impl_->server_instance = m.header.value("server", std::string());
}

Connection::~Connection() { close(); }

std::shared_ptr<Reply> Connection::request(Message&& m, std::size_t objects) {
  auto reply = std::make_shared<Reply>();
  reply->objects_expected_ = objects;
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (!impl_->alive) {
      reply->fail(impl_->lost_reason.empty() ? "the connection is closed" : impl_->lost_reason);
      return reply;
    }
    std::uint64_t req = impl_->next_req++;
    m.header["req"] = req;
    impl_->pending.emplace(req, reply);
    impl_->close_release();  // releases asked for before this request reach the server before it
    impl_->outgoing.push_back(std::move(m));
  }
  std::uint64_t one = 1;
  (void)::write(impl_->wake_fd, &one, sizeof one);
  return reply;
}

void Connection::post(Message&& m) {
  {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    if (!impl_->alive) return;
    impl_->close_release();
    impl_->outgoing.push_back(std::move(m));
  }
  std::uint64_t one = 1;
  (void)::write(impl_->wake_fd, &one, sizeof one);
}

void Connection::release(const std::vector<std::uint64_t>& ids, bool when_done) {
  if (ids.empty()) return;
  Impl& c = *impl_;
  bool wake = false;
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    if (!c.alive) return;
    if (!c.open_release.empty() && c.open_release_when_done != when_done) c.close_release();
    if (c.open_release.empty()) {
      c.open_release_when_done = when_done;
      c.release_due = steady_ms() + release_delay.count();
      wake = true;  // the I/O thread learns when the batch is due
    }
    c.open_release.insert(c.open_release.end(), ids.begin(), ids.end());
    if (c.open_release.size() >= release_batch_max) c.close_release();
  }
  if (wake) {
    std::uint64_t one = 1;
    (void)::write(c.wake_fd, &one, sizeof one);
  }
}

bool Connection::connected() const { return impl_->alive; }

std::string Connection::lost_reason() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->lost_reason;
}

const std::string& Connection::server_instance() const { return impl_->server_instance; }

std::vector<Message> Connection::take_events() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::vector<Message> out;
  out.swap(impl_->events);
  impl_->has_events = false;
  return out;
}

bool Connection::has_events() const { return impl_->has_events; }

bool Connection::wait_for_events(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(impl_->mutex);
  return impl_->event_arrived.wait_for(lock, timeout, [this] { return impl_->has_events.load() || !impl_->alive; });
}

void Connection::close() {
  Impl& c = *impl_;
  if (!c.thread.joinable()) return;
  post(Message(json{{"op", op::bye}}));
  c.stop = true;
  std::uint64_t one = 1;
  (void)::write(c.wake_fd, &one, sizeof one);
  c.thread.join();
  // The I/O thread is gone: the watch is this thread's now. What is unsent (the bye, a release,
  // a cancel) waits for the server only while its connection is open: a server gone takes
  // nothing, and waiting for it made every close of a dead cluster's client take 2 s (and the
  // garbage collector freeze the program that long per client it freed).
  c.watch->on_readable(steady_ms());
  if (!c.watch->open()) c.socket.set(zmq::sockopt::linger, 0);
  c.close_linger_ms = c.socket.get(zmq::sockopt::linger);
  c.fail_all("the connection is closed");
  // wake_fd stays open until the connection is destroyed: a request racing this close on
  // another thread may still write to it (a closed fd could by then be another file's).
}

int Connection::close_linger_ms() const { return impl_->close_linger_ms; }

void Connection::Impl::fail_all(const std::string& why) {
  std::unordered_map<std::uint64_t, std::shared_ptr<Reply>> replies;
  {
    std::lock_guard<std::mutex> lock(mutex);
    alive = false;
    if (lost_reason.empty()) lost_reason = why;
    replies.swap(pending);
  }
  event_arrived.notify_all();
  for (auto& [req, reply] : replies) reply->fail(why);
}

void Connection::Impl::io() {
  std::int64_t next_heartbeat = steady_ms() + heartbeat_ms;
  std::int64_t server_seen = steady_ms();
  std::int64_t last_turn = steady_ms();
  bool welcomed = false;
  auto flush_outgoing = [&] {
    std::deque<Message> batch;
    {
      std::lock_guard<std::mutex> lock(mutex);
      batch.swap(outgoing);
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      Message& m = batch[i];
      json req = m.header.value("req", json());
      if (send_message(socket, std::move(m))) continue;
      if (!welcomed) {
        // No connection to send on yet (its handshake failed or is not done): the hello and
        // what follows it wait for the next turn; the constructor's deadline ends the wait,
        // with what the connection's watch saw.
        std::lock_guard<std::mutex> lock(mutex);
        outgoing.insert(outgoing.begin(), std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(i)),
                        std::make_move_iterator(batch.end()));
        return;
      }
      if (!req.is_number_unsigned()) continue;
      std::shared_ptr<Reply> reply;
      {
        std::lock_guard<std::mutex> lock(mutex);
        auto it = pending.find(req.get<std::uint64_t>());
        if (it == pending.end()) continue;
        reply = it->second;
        pending.erase(it);
      }
      reply->fail("cannot reach the treadle server (is it running, and do both sides have the same secret?)");
    }
  };
  while (true) {
    zmq::pollitem_t items[] = {{static_cast<void*>(socket), 0, ZMQ_POLLIN, 0}, {nullptr, wake_fd, ZMQ_POLLIN, 0},
                               watch->poll_item()};
    std::int64_t wake_at = next_heartbeat;
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!open_release.empty()) wake_at = std::min(wake_at, release_due);
    }
    try {
      zmq::poll(items, 3, std::chrono::milliseconds(std::max<std::int64_t>(0, wake_at - steady_ms())));
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR) continue;
      fail_all(std::string("connection failed: ") + e.what());
      return;
    }
    if (items[1].revents & ZMQ_POLLIN) {
      std::uint64_t n;
      (void)::read(wake_fd, &n, sizeof n);
    }
    if (items[2].revents & ZMQ_POLLIN) {
      watch->on_readable(steady_ms());  // (its events arrive here until close(), which reads the rest)
      accepted = watch->accepted();
      handshake_done = handshake_done || watch->open();
      handshake_failed = watch->handshake_failed();
      if (watch->refused_credentials() && !refused_credentials) {
        refused_credentials = true;
        fail_all("the treadle server refused this client's secret");
        return;
      }
    }
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (!open_release.empty() && steady_ms() >= release_due) close_release();
    }
    flush_outgoing();
    if (stop) return;
    while (true) {
      Message m;
      try {
        if (!recv_message(socket, m, nullptr, true)) break;
      } catch (const ProtocolError&) {
        continue;
      }
      server_seen = steady_ms();
      if (m.op() == op::heartbeat) continue;
      if (m.op() == op::error) {
        // The server ended this client's session (silent past its grace period), or never knew it
        // (restarted meanwhile): every call from now on would fail the same way.
        std::string code = m.header.value("code", std::string());
        if (code == "session_ended" || code == "unknown_peer") {
          fail_all(code == "session_ended"
                       ? m.header.value("message", std::string("the server ended this client's session"))
                       : "the treadle server no longer knows this client (it was restarted, or it dropped it)");
          return;
        }
      }
      if (m.op() == op::welcome) welcomed = true;
      if (m.op() == op::output || m.op() == op::settled) {
        std::lock_guard<std::mutex> lock(mutex);
        events.push_back(std::move(m));
        has_events = true;
        event_arrived.notify_all();
        continue;
      }
      auto req = m.header.value("req", json());
      if (!req.is_number_unsigned()) continue;
      std::shared_ptr<Reply> reply;
      {
        std::lock_guard<std::mutex> lock(mutex);
        auto it = pending.find(req.get<std::uint64_t>());
        if (it == pending.end()) continue;
        reply = it->second;
      }
      reply->add(std::move(m));
      if (reply->wait_for(std::chrono::milliseconds(0))) {
        std::lock_guard<std::mutex> lock(mutex);
        pending.erase(req.get<std::uint64_t>());
      }
    }
    std::int64_t now = steady_ms();
    if (now - last_turn > paused_ms) {
      // This process was paused (wherever in the turn): the server gets its full timeout from
      // now, and hears from us at once.
      server_seen = now;
      next_heartbeat = now;
    }
    last_turn = now;
    if (now >= next_heartbeat) {
      if (welcomed) send_message(socket, Message(json{{"op", op::heartbeat}}));
      next_heartbeat = now + heartbeat_ms;
    }
    // A server silent with its connection open is alive, only busy or stopped (a big plan on a
    // loaded machine): the caller keeps waiting and says so (Connection::server_silent). Its
    // silence counts as its loss once its connection closed (it died, or its host stopped
    // acknowledging our heartbeats), and lasted the server timeout.
    // A server whose connection closed and whose port then refuses reconnects stopped (killed,
    // or ended): that is said at once, not after the silence, since nothing is left to wait for
    // (a server restarted on that port would not know this client either).
    silent_ms = welcomed && watch->open() ? now - server_seen : 0;
    if (welcomed && !watch->open() && watch->failed_reconnects() >= refused_reconnects_lost) {
      fail_all("lost the connection to the treadle server at " + address +
               ": its connection closed and reconnecting is refused (the server stopped)");
      return;
    }
    if (welcomed && !watch->open() && now - std::max(server_seen, watch->closed_since()) > server_timeout_ms) {
      fail_all("lost the connection to the treadle server at " + address + " (its connection closed, and no answer for " +
               std::to_string((server_timeout_ms + 500) / 1000) + " s)");
      return;
    }
  }
}

std::chrono::milliseconds Connection::server_silent() const { return std::chrono::milliseconds(impl_->silent_ms.load()); }

}  // namespace treadle
