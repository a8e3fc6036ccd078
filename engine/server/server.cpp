#include "../common/clock.hpp"
#include "server.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "../common/attention_clock.hpp"
#include "../common/auth.hpp"
#include "../common/batches.hpp"
#include "../common/bytes_arriving.hpp"
#include "../common/log.hpp"
#include "../common/log_throttle.hpp"
#include "../common/message_fields.hpp"
#include "../common/protocol.hpp"
#include "../common/return_memory.hpp"
#include "client_requests.hpp"
#include "compute_batch_builder.hpp"
#include "lost_workers.hpp"
#include "scheduler.hpp"
#include "server_loop.hpp"
#include "task_story.hpp"
#include "trace_recorder.hpp"
#include "wire_plan.hpp"
#include "worker_contents.hpp"
#include "worker_hello.hpp"

namespace treadle {

// Freed plans of at least this many tasks (a few MB) are worth giving back to the system.
constexpr std::size_t trim_after_tasks = 16384;

// 64 random bits in hex: a name for this run of the server.
std::string random_instance() {
  std::random_device device;
  std::uint64_t bits = (std::uint64_t(device()) << 32) | device();
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(bits));
  return text;
}

namespace {

// A task_failed message's optional packed Python exception (msgpack binary; anything else is
// a malformed message). One too big to hold for its dependents travels as text only.
std::shared_ptr<const std::string> packed_exception(const json& header) {
  constexpr std::size_t limit = 1 << 20;
  auto it = header.find("exception");
  if (it == header.end()) return nullptr;
  if (!it->is_binary()) throw std::runtime_error("'exception' must be binary");
  if (it->get_binary().size() > limit) return nullptr;
  return std::make_shared<const std::string>(it->get_binary().begin(), it->get_binary().end());
}

}  // namespace

// Frees wait for the next message to their worker (and ride on it when it is a compute batch)
// while they are few, small and recent: a worker given light tasks now and then was sent a free
// message of its own after every plan. Past any bound they go at once.
constexpr std::int64_t free_hold_ms = 250;              // the loop flushes at least every 250 ms
constexpr std::uint64_t free_hold_bytes = 1u << 20;     // of the objects waiting to be freed
constexpr std::size_t free_hold_count = 65536;

void ServerLoop::run(zmq::socket_t& control, zmq::socket_t& monitor) {
  zmq::pollitem_t items[] = {{static_cast<void*>(router_), 0, ZMQ_POLLIN, 0},
                             {static_cast<void*>(control), 0, ZMQ_POLLIN, 0},
                             {static_cast<void*>(monitor), 0, ZMQ_POLLIN, 0}};
  std::int64_t next_check = steady_ms() + 250;
  while (true) {
    std::int64_t timeout = std::max<std::int64_t>(0, next_check - steady_ms());
    zmq::poll(items, 3, std::chrono::milliseconds(timeout));
    if (items[1].revents & ZMQ_POLLIN) break;
    if (items[2].revents & ZMQ_POLLIN) connection_event(monitor);
    attention_.looked(steady_ms());
    // Drain what is there (bounded, so heartbeats are still checked under load), then decide.
    for (int i = 0; i < 4096; ++i) {
      Message m;
      std::string routing;
      int fd = -1;
      try {
        if (!recv_message(router_, m, &routing, true, &fd)) break;
        // The monitor's events up to this message: a fd it closed and a new connection reused
        // is then known as reused (its ACCEPTED came before the message), not taken as closed.
        connection_event(monitor);
      } catch (const ProtocolError& e) {
        const std::string from = describe(routing);
        malformed_.warn(from, "dropped a bad message from ", from, ": ", e.what());
        continue;
      }
      try {
        scheduler_.set_clock(wall_us());  // ready and decision times: when the server got the news
        handle(routing, m, fd);
      } catch (const std::exception& e) {
        const std::string from = describe(routing);
        malformed_.warn(from, "bad '", m.op(), "' message from ", from, ": ", e.what());
        reply_error(routing, m.header.value("req", json()), std::string("bad '") + m.op() + "' message: " + e.what());
      }
    }
    // After the messages it sent before it died (read above): its results still count.
    if (!closed_workers_.empty()) lose_closed_workers();
    scheduler_.set_clock(wall_us());
    scheduler_.schedule();
    if (!retiring_.empty()) stop_retired_workers();
    flush();
    if (steady_ms() >= next_check) {
      scheduler_.set_clock(wall_us());
      check_heartbeats();
      malformed_.tick();
      if (scheduler_.collect_garbage() >= trim_after_tasks) return_freed_memory();
      scheduler_.schedule();
      flush();
      next_check = steady_ms() + 250;
    }
  }
}

// Who sent a message, for the log: every peer that never said hello counts as one.
std::string ServerLoop::describe(const std::string& routing) const {
  auto it = peers_.find(routing);
  if (it == peers_.end()) return "a peer that did not say hello";
  return (it->second.role == Peer::Role::worker ? "worker " : "client ") + it->second.name;
}

void ServerLoop::handle(const std::string& routing, Message& m, int fd) {
  const std::string op = m.op();
  if (fields::has(m.header, "req")) {
    try {
      fields::unsigned_integer(m.header, "req");
    } catch (const ProtocolError&) {
      m.header.erase("req");  // the error reply cannot echo it
      throw;
    }
  }
  auto it = peers_.find(routing);
  if (it == peers_.end()) {
    if (op == op::hello) {
      hello(routing, m);
      auto added = peers_.find(routing);
      if (added != peers_.end()) added->second.fd = fd;
      if (added != peers_.end() && closed_fds_.count(fd)) mark_closed(added->second, routing);
      return;
    }
    // A peer we never met, or one declared lost: it must not take the silence for life.
    auto ended = ended_sessions_.find(routing);
    if (ended != ended_sessions_.end()) {
      send_message(router_, Message(json{{"op", op::error}, {"req", m.header.value("req", json())},
                                         {"code", "session_ended"}, {"message", ended->second}}),
                   routing);
      return;
    }
    send_message(router_, Message(json{{"op", op::error}, {"req", m.header.value("req", json())},
                                       {"code", "unknown_peer"}, {"message", "say hello first"}, {"server", instance_}}),
                 routing);
    return;
  }
  Peer& peer = it->second;
  peer.last_heard = attention_.now();
  peer.fd = fd;
  peer.connection_closed = false;
  if (closed_fds_.count(fd)) mark_closed(peer, routing);  // a message read after its connection closed
  if (peer.away) client_back(routing, peer);
  if (op == op::heartbeat) {
    // Answered, so peers notice a dead server too.
    send_message(router_, Message(json{{"op", op::heartbeat}}), routing);
    if (peer.role == Peer::Role::worker && m.header.contains("cpu")) sample(peer, m);
    return;
  }
  if (peer.role == Peer::Role::worker) {
    if (op == op::finished) return finished(peer, m);
    if (op == op::bye) return lose_peer(routing, "stopped");
    if (op == op::task_failed) {  // the message names the worker: "module missing *there*"
      TaskId id = fields::unsigned_integer(m.header, "id");
      std::string message = fields::text(m.header, "message", fields::max_message);
      if (fields::has(m.header, "start_us") && scheduler_.exists(id)) {  // it ran: its bar, marked failed
        const std::int64_t start = fields::integer(m.header, "start_us"), end = fields::integer(m.header, "end_us");
        if (end >= start)
          trace_.record_failed_task(scheduler_, peer.id, id, static_cast<std::uint32_t>(fields::unsigned_integer(m.header, "lane", 0, 0xffffffffu)),
                                    start, end, message);
      }
      if (!message.empty() && message.back() != '\n') message += '\n';
      return scheduler_.task_failed(peer.id, id, message + "(on worker " + peer.name + ")", packed_exception(m.header));
    }
    if (op == op::task_info)
      return scheduler_.set_task_info(fields::unsigned_integer(m.header, "id"),
                                      fields::text(m.header, "info", fields::max_task_info));
    if (op == op::data) return worker_data(m);
    if (op == op::output) return task_output(m);
    if (op == op::redirect) return redirect(peer, m);
    if (op == op::gave_back)
      return scheduler_.tasks_given_back(peer.id, fields::ids(m.header, "ids"), fields::ids(m.header, "kept"));
    if (op == op::seceded || op == op::rejoined)
      return scheduler_.task_seceded(peer.id, m.header.at("id").get<TaskId>(), op == op::seceded);
  } else {
    if (op == op::submit) return submit(routing, peer, m);
    if (op == op::wait) return wait_or_fetch(routing, m, false);
    if (op == op::fetch) return wait_or_fetch(routing, m, true);
    if (op == op::release) return release(routing, m);
    if (op == op::cancel) return cancel(routing, m);
    if (op == op::status) return status(routing, m);
    if (op == op::watch) return watch(routing, m);
    if (op == op::trace) return trace(routing, m);
    if (op == op::states) return states(routing, m);
    if (op == op::story) return story(routing, m);
    if (op == op::retire) return retire(routing, m);
    if (op == op::bye) return lose_peer(routing, "said goodbye");
  }
  reply_error(routing, m.header.value("req", json()), "unknown op '" + op + "'");
}

void ServerLoop::hello(const std::string& routing, Message& m) {
  const std::string role = fields::text(m.header, "role", fields::max_name, true);
  Peer peer;
  peer.last_heard = attention_.now();
  peer.name = fields::has(m.header, "name") ? fields::text(m.header, "name", fields::max_name, true) : "?";
  if (role == "worker") {
    WorkerHello w = check_worker_hello(m.header);
    peer.role = Peer::Role::worker;
    peer.id = scheduler_.add_worker(peer.name, w.data_address, w.cpus, w.types);
    worker_routing_.push_back(routing);
    worker_by_address_[w.data_address] = peer.id;
    outboxes_.emplace_back();
    samples_.emplace_back();
    trace_.record_worker(TraceEvent::Kind::worker_joined, peer.id, peer.name, wall_us());
    log::info("worker ", peer.name, " joined with ", w.cpus, " cpus at ", w.data_address);
  } else if (role == "client") {
    peer.role = Peer::Role::client;
    peer.id = next_client_++;
    client_routing_[peer.id] = routing;
    log::info("client ", peer.name, " connected");
  } else {
    return reply_error(routing, m.header.value("req", json()), "unknown role '" + role + "' (worker or client)");
  }
  peers_.emplace(routing, peer);
  send_message(router_,
               Message(json{{"op", op::welcome}, {"id", peer.id}, {"server", instance_}, {"req", m.header.value("req", json())}}),
               routing);
}

void ServerLoop::reply_error(const std::string& routing, const json& req, const std::string& message, const char* code) {
  json h{{"op", op::error}, {"req", req}, {"message", message}};
  if (code) h["code"] = code;
  send_message(router_, Message(std::move(h)), routing);
}

// Silences count on the attention clock: a server that was busy or stopped for longer than the
// timeout reads the heartbeats queued meanwhile before it blames anyone.
void ServerLoop::check_heartbeats() {
  const std::int64_t now = attention_.now();
  std::vector<std::pair<std::string, const char*>> gone;
  std::vector<std::string> ended;
  for (auto& [routing, peer] : peers_) {
    std::int64_t silent = now - peer.last_heard;
    if (peer.role == Peer::Role::worker) {
      if (silent > options_.worker_timeout_ms && !bringing_bytes(peer)) gone.emplace_back(routing, "no heartbeat");
      continue;
    }
    if (silent <= options_.client_timeout_ms) continue;
    // Silent and its connection closed: the process is gone. Still connected: it may be paused
    // (a laptop asleep, a stopped process), so its session waits for it during the grace period.
    if (peer.connection_closed) {
      gone.emplace_back(routing, "no heartbeat, connection closed");
    } else if (silent > std::int64_t{options_.client_grace_s} * 1000) {
      ended.push_back(routing);
    } else if (!peer.away) {
      peer.away = true;
      log::info("client ", peer.name, " is silent but still connected: keeping its session for ",
                options_.client_grace_s, " s");
    }
  }
  for (auto& [routing, why] : gone) lose_peer(routing, why);
  for (auto& routing : ended) end_session(routing);
}

// A worker silent past its timeout whose open connection is still bringing bytes is sending a
// big message (an upload for a client's fetch), and its heartbeats wait behind it: alive.
bool ServerLoop::bringing_bytes(const Peer& peer) const {
  if (peer.connection_closed) return false;
  const std::int64_t ago = ms_since_bytes_arrived(peer.fd);
  return ago >= 0 && ago <= options_.worker_timeout_ms;
}

// The grace period is over: the session ends, and the client, if it ever comes back, is told so.
void ServerLoop::end_session(const std::string& routing) {
  constexpr std::size_t remembered = 1024;
  if (ended_order_.size() == remembered) {
    ended_sessions_.erase(ended_order_.front());
    ended_order_.pop_front();
  }
  ended_sessions_[routing] = "the server ended this client's session after " + std::to_string(options_.client_grace_s) +
                             " s without contact; its futures were released";
  ended_order_.push_back(routing);
  lose_peer(routing, "no contact during the grace period");
}

// The router's monitor: which connections closed (a fd, until a new connection reuses it).
void ServerLoop::connection_event(zmq::socket_t& monitor) {
  while (true) {
    zmq::message_t event, address;
    if (!monitor.recv(event, zmq::recv_flags::dontwait)) return;
    if (event.more()) (void)monitor.recv(address);
    if (event.size() < 6) continue;
    std::uint16_t kind;
    std::uint32_t value;
    std::memcpy(&kind, event.data<char>(), sizeof kind);
    std::memcpy(&value, event.data<char>() + 2, sizeof value);
    int fd = static_cast<int>(value);
    if (kind == ZMQ_EVENT_DISCONNECTED) {
      closed_fds_.insert(fd);
      for (auto& [routing, peer] : peers_)
        if (peer.fd == fd && !peer.connection_closed) mark_closed(peer, routing);
    }
    if (kind == ZMQ_EVENT_ACCEPTED) closed_fds_.erase(fd);
  }
}

void ServerLoop::mark_closed(Peer& peer, const std::string& routing) {
  peer.connection_closed = true;
  if (peer.role == Peer::Role::worker) closed_workers_.push_back(routing);
}

// Heartbeats stay for the workers that hang or whose host is cut off: their connections stay
// open (until TCP_USER_TIMEOUT), and a silent one is lost after the worker timeout.
void ServerLoop::lose_closed_workers() {
  for (auto& routing : std::exchange(closed_workers_, {})) {
    auto it = peers_.find(routing);
    if (it != peers_.end() && it->second.connection_closed) lose_peer(routing, "connection closed");
  }
}

void ServerLoop::lose_peer(const std::string& routing, const char* reason) {
  auto it = peers_.find(routing);
  if (it == peers_.end()) return;
  Peer peer = it->second;
  peers_.erase(it);
  if (peer.role == Peer::Role::worker) {
    const WorkerInfo& w = *scheduler_.worker(peer.id);
    const bool retired = w.retiring;
    retiring_.erase(peer.id);
    // Lost, as the scheduler's log says it: not retired, nor stopped on purpose.
    if (!retired && std::string_view(reason) != "stopped")
      lost_workers_.record(peer.id, peer.name, w.data_address, reason, wall_us());
    trace_.record_worker(retired ? TraceEvent::Kind::worker_retired : TraceEvent::Kind::worker_lost, peer.id,
                         retired ? peer.name : peer.name + " (" + reason + ")", wall_us(), reason);
    scheduler_.remove_worker(peer.id, reason);
    outboxes_[peer.id].clear();  // what was held for it goes with it
    // Fetches it was uploading: wait for the recomputed data and ask again.
    for (auto& upload : requests_.take_uploads_from(peer.id)) {
      if (peers_.find(upload.client) == peers_.end()) continue;
      answer_when_finished(ClientRequest{upload.client, upload.req, true, std::move(upload.ids), 0});
    }
  } else {
    log::info("client ", peer.name, " left (", reason, "): releasing its futures");
    client_routing_.erase(peer.id);
    requests_.drop_client(routing);
    auto kept = kept_by_client_.find(routing);
    if (kept != kept_by_client_.end()) {
      for (auto& [id, count] : kept->second)
        for (std::uint32_t i = 0; i < count; ++i) scheduler_.release(id);
      kept_by_client_.erase(kept);
    }
  }
}

void ServerLoop::flush() {
  release_due();  // first: the frees it causes go out with this turn's messages
  trace_.flush();  // a loop turn at a time: the file is readable while the run goes on
  for (auto& [routing, news] : settled_) {
    if (peers_.find(routing) == peers_.end()) continue;
    json h{{"op", op::settled}, {"finished", std::move(news.finished)}, {"failed", std::move(news.failed)}};
    if (!news.cancelled.empty()) h["cancelled"] = std::move(news.cancelled);
    send_message(router_, Message(std::move(h)), routing);
  }
  settled_.clear();
  // In worker order, as when every outbox was visited.
  std::sort(filled_outboxes_.begin(), filled_outboxes_.end());
  const std::int64_t now = steady_ms();
  std::size_t held = 0;  // outboxes whose frees wait for a later turn, moved to the front
  for (WorkerId w : filled_outboxes_) {
    Outbox& box = outboxes_[w];
    if (box.only_frees() && !box.free.empty()) {
      if (!box.free_since_ms) box.free_since_ms = now;
      if (now - box.free_since_ms < free_hold_ms && box.free_bytes < free_hold_bytes &&
          box.free.size() < free_hold_count && !scheduler_.worker(w)->retiring) {
        filled_outboxes_[held++] = w;  // still listed
        continue;
      }
    }
    box.listed = false;
    if (box.only_frees() && box.free.empty()) continue;
    const std::string& routing = worker_routing_[w];
    // Aliases first: a compute or a free in this same turn may name them.
    if (!box.aliases.empty())
      send_message(router_, Message(json{{"op", op::alias}, {"pairs", std::move(box.aliases)}}), routing);
    // Cancels first: a cancelled task may be assigned again in the same turn.
    if (!box.cancel.empty())
      send_message(router_, Message(json{{"op", op::cancel}, {"ids", box.cancel}}), routing);
    // Uploads before frees: a result a client fetched may be released in the same turn.
    for (auto& [uid, ids] : box.uploads)
      send_message(router_, Message(json{{"op", op::upload}, {"req", uid}, {"ids", ids}}), routing);
    // Frees (some decided in earlier turns) before this turn's tasks and copies, which may make
    // those objects again: on the compute batch when there is one, else on their own.
    const bool compute = !box.compute.empty() && compute_batch_.add_tasks(w, box.compute);
    if (compute) compute_batch_.add_frees(box.free);
    else if (!box.free.empty()) send_message(router_, Message(json{{"op", op::free}, {"ids", box.free}}), routing);
    if (compute) send_message(router_, compute_batch_.encode(), routing);
    // After compute: a steal may name a task sent in an earlier turn only, never this one's.
    if (!box.steal.empty()) send_message(router_, Message(json{{"op", op::steal}, {"ids", box.steal}}), routing);
    for (auto& [from, ids] : box.replicate)
      send_message(router_,
                   Message(json{{"op", op::replicate}, {"peer", scheduler_.worker(from)->data_address}, {"ids", ids}}),
                   routing);
    box.clear();
  }
  filled_outboxes_.resize(held);
}

struct Server::Impl {
  ServerOptions options;
  zmq::context_t context{1};
  std::unique_ptr<ZapAuthenticator> zap;
  std::unique_ptr<zmq::socket_t> router;
  std::unique_ptr<zmq::socket_t> control_in;  // the loop listens here for "stop"
  std::unique_ptr<zmq::socket_t> control_out;
  std::unique_ptr<zmq::socket_t> monitor;  // the router's connection events (closed connections)
  std::thread thread;
  std::mutex mutex;
  std::atomic<bool> running{false};
  int port = 0;
};

Server::Server(ServerOptions options) : impl_(std::make_unique<Impl>()) { impl_->options = std::move(options); }

Server::~Server() { stop(); }

void Server::start() {
  Impl& s = *impl_;
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.running) return;
  if (s.options.secret.empty()) s.options.secret = load_secret();
  s.zap = std::make_unique<ZapAuthenticator>(s.context, s.options.secret);
  s.router = std::make_unique<zmq::socket_t>(s.context, zmq::socket_type::router);
  require_authentication(*s.router, s.options.secret, s.options.host);
  s.router->set(zmq::sockopt::linger, 0);
  s.router->set(zmq::sockopt::router_mandatory, 0);
  s.router->set(zmq::sockopt::sndhwm, 0);  // never drop a decision; memory is the bound
  s.router->set(zmq::sockopt::rcvhwm, 0);
  // A client that reconnects (same routing id: its own) takes its session over.
  s.router->set(zmq::sockopt::router_handover, 1);
  std::string endpoint = "tcp://" + s.options.host + ":" + (s.options.port ? std::to_string(s.options.port) : "*");
  try {
    s.router->bind(endpoint);
  } catch (const zmq::error_t& e) {
    s.router.reset();
    s.zap.reset();
    throw std::runtime_error("cannot listen on " + s.options.host + ":" + std::to_string(s.options.port) + ": " + e.what());
  }
  std::string last = s.router->get(zmq::sockopt::last_endpoint);
  s.port = std::stoi(last.substr(last.rfind(':') + 1));
  std::string control = "inproc://treadle-server-control-" + std::to_string(reinterpret_cast<std::uintptr_t>(this));
  s.control_in = std::make_unique<zmq::socket_t>(s.context, zmq::socket_type::pair);
  s.control_in->bind(control);
  s.control_out = std::make_unique<zmq::socket_t>(s.context, zmq::socket_type::pair);
  s.control_out->connect(control);
  std::string monitor = "inproc://treadle-server-monitor-" + std::to_string(reinterpret_cast<std::uintptr_t>(this));
  if (zmq_socket_monitor(s.router->handle(), monitor.c_str(), ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0)
    throw std::runtime_error(std::string("cannot monitor the server socket: ") + zmq_strerror(zmq_errno()));
  s.monitor = std::make_unique<zmq::socket_t>(s.context, zmq::socket_type::pair);
  s.monitor->set(zmq::sockopt::linger, 0);
  s.monitor->connect(monitor);
  s.running = true;
  log::info("listening on ", s.options.host, ":", s.port);
  s.thread = std::thread([&s] {
    try {
      ServerLoop loop(s.options, s.context, *s.router);
      loop.run(*s.control_in, *s.monitor);
    } catch (const std::exception& e) {
      log::error("server loop ended: ", e.what());
    }
    s.running = false;
  });
}

void Server::stop() {
  Impl& s = *impl_;
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.thread.joinable()) return;
  try {
    s.control_out->send(zmq::str_buffer("stop"), zmq::send_flags::dontwait);
  } catch (const zmq::error_t&) {
  }
  s.thread.join();
  zmq_socket_monitor(s.router->handle(), nullptr, 0);
  s.monitor.reset();
  s.router.reset();
  s.control_in.reset();
  s.control_out.reset();
  s.zap.reset();
  s.running = false;
}

void Server::wait() {
  while (impl_->running) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

bool Server::running() const { return impl_->running; }
int Server::port() const { return impl_->port; }
const std::string& Server::host() const { return impl_->options.host; }

}  // namespace treadle
