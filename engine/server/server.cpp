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
#include "../common/log.hpp"
#include "../common/log_throttle.hpp"
#include "../common/message_fields.hpp"
#include "../common/protocol.hpp"
#include "../common/return_memory.hpp"
#include "client_requests.hpp"
#include "compute_batch_builder.hpp"
#include "lost_workers.hpp"
#include "scheduler.hpp"
#include "task_story.hpp"
#include "trace_recorder.hpp"
#include "wire_plan.hpp"
#include "worker_contents.hpp"
#include "worker_hello.hpp"

namespace treadle {
namespace {

// What an away client's tasks printed, held until it is back (up to held_output_limit bytes).
struct HeldOutput {
  json items = json::array();
  std::size_t bytes = 0;
  std::size_t dropped = 0;  // items beyond the limit
  TaskId last_dropped = 0;
};
constexpr std::size_t held_output_limit = 4u << 20;
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

struct Peer {
  enum class Role { worker, client } role;
  std::uint32_t id = 0;
  std::string name;
  std::int64_t last_heard = 0;  // on the server's attention clock: when its last message was read
  int fd = -1;        // the connection its last message came on
  // That connection closed (the monitor said so while it was this peer's). Kept on the peer,
  // not looked up by fd later: a new connection soon reuses the fd number. A worker's routing
  // id is its connection's (it sets none), so a worker whose connection closed is gone: its
  // process died (the kernel closed its connections) or its host stopped answering TCP; one
  // that connects again is a new peer, told `unknown_peer`, and rejoins as a new worker.
  bool connection_closed = false;
  bool away = false;  // a client silent for a while, still connected (paused?): its session is kept
  HeldOutput held;
};

// Frees wait for the next message to their worker (and ride on it when it is a compute batch)
// while they are few, small and recent: a worker given light tasks now and then was sent a free
// message of its own after every plan. Past any bound they go at once.
constexpr std::int64_t free_hold_ms = 250;              // the loop flushes at least every 250 ms
constexpr std::uint64_t free_hold_bytes = 1u << 20;     // of the objects waiting to be freed
constexpr std::size_t free_hold_count = 65536;

// What the scheduler decided for one worker during this loop turn (frees: maybe earlier ones).
struct Outbox {
  std::vector<TaskId> compute, cancel, free, steal;
  std::unordered_map<WorkerId, std::vector<ObjectId>> replicate;  // holder -> objects to copy here
  json aliases = json::array();
  std::vector<std::pair<std::uint64_t, std::vector<TaskId>>> uploads;
  std::uint64_t free_bytes = 0;    // of the objects in `free`
  std::int64_t free_since_ms = 0;  // when the oldest of `free` was held back (0: none is)
  bool listed = false;             // in ServerLoop::filled_outboxes_

  bool only_frees() const {
    return compute.empty() && cancel.empty() && steal.empty() && aliases.empty() && uploads.empty() &&
           replicate.empty();
  }
  // Empty again, keeping the memory of its usual lists (a turn's lists are mostly short).
  void clear() {
    for (auto* list : {&compute, &cancel, &free, &steal}) {
      if (list->capacity() > 4096) std::vector<TaskId>().swap(*list);
      else list->clear();
    }
    replicate.clear();
    aliases = json::array();
    uploads.clear();
    free_bytes = 0;
    free_since_ms = 0;
  }
};

// Everything the server does, on its loop thread.
class ServerLoop final : public SchedulerActions {
 public:
  ServerLoop(const ServerOptions& options, zmq::context_t& context, zmq::socket_t& router)
      : options_(options), context_(context), router_(router) {
    trace_.observe(scheduler_);  // every placement is recorded with its reason, every cancel with its task's label
    scheduler_.set_worker_grace_us(std::int64_t{options.worker_grace_s} * 1'000'000);
  }
  // How far a stall of the loop moves the attention clock: above the loop's own wake-ups
  // (every 250 ms) and well below the worker timeout, so a stall never uses up a peer's time.
  static std::int64_t max_attention_gap_ms(const ServerOptions& options) {
    return std::max<std::int64_t>(500, options.worker_timeout_ms / 4);
  }

  void run(zmq::socket_t& control, zmq::socket_t& monitor);

  // SchedulerActions
  void assign(WorkerId w, TaskId t) override { outbox(w).compute.push_back(t); }
  void cancel(WorkerId w, TaskId t) override { outbox(w).cancel.push_back(t); }
  void free_data(WorkerId w, TaskId t) override {
    Outbox& box = outbox(w);
    box.free.push_back(t);
    box.free_bytes += scheduler_.object_size(t);
    if (box.free.size() >= free_slice) send_frees(w, box);
  }
  void alias(WorkerId w, TaskId from, TaskId to) override { outbox(w).aliases.push_back({from, to}); }
  void replicate(WorkerId to, ObjectId object, WorkerId from) override { outbox(to).replicate[from].push_back(object); }
  void steal(WorkerId victim, TaskId t) override { outbox(victim).steal.push_back(t); }
  void kept_finished(TaskId t) override;
  void kept_failed(TaskId t) override;

 private:
  void handle(const std::string& routing, Message& m, int fd);
  void hello(const std::string& routing, Message& m);
  void submit(const std::string& routing, Peer& peer, Message& m);
  void wait_or_fetch(const std::string& routing, Message& m, bool fetch);
  void answer_when_finished(ClientRequest request);
  void release(const std::string& routing, Message& m);
  void release_due();
  void cancel(const std::string& routing, Message& m);
  void status(const std::string& routing, Message& m);
  void sample(Peer& peer, Message& m);
  void states(const std::string& routing, Message& m);
  void story(const std::string& routing, Message& m);
  void retire(const std::string& routing, Message& m);
  void stop_retired_workers();
  void watch(const std::string& routing, Message& m);
  void settle(TaskId task, bool ok);
  void finished(Peer& peer, Message& m);
  void worker_data(Message& m);
  void task_output(Message& m);
  void redirect(Peer& peer, Message& m);
  void complete(std::uint64_t request_id);
  void send_failure(const std::string& client, std::uint64_t req, TaskId task);
  void reply_error(const std::string& routing, const json& req, const std::string& message);
  void check_heartbeats();
  void connection_event(zmq::socket_t& monitor);
  void mark_closed(Peer& peer, const std::string& routing);
  void lose_closed_workers();
  void client_back(const std::string& routing, Peer& peer);
  void hold_output(Peer& peer, json&& items);
  void end_session(const std::string& routing);
  void lose_peer(const std::string& routing, const char* reason);
  void flush();
  std::string describe(const std::string& routing) const;

  const ServerOptions& options_;
  zmq::context_t& context_;
  zmq::socket_t& router_;
  Scheduler scheduler_{*this};
  ComputeBatchBuilder compute_batch_{scheduler_};
  ClientRequests requests_;
  TraceRecorder trace_;
  std::vector<WorkerSample> samples_;  // the latest per worker (at_us 0: none yet)
  LostWorkers lost_workers_;           // the latest losses, for status
  void record_finished(WorkerId worker, const FinishedBatch& b);
  void trace(const std::string& routing, Message& m);
  std::unordered_map<std::string, Peer> peers_;
  std::vector<std::string> worker_routing_;
  // Workers by data address (the newest to use it), to name the sender of a transfer a worker
  // reports without a walk over every worker per copy.
  std::unordered_map<std::string, WorkerId> worker_by_address_;
  std::vector<Outbox> outboxes_;
  // The workers with something in their outbox this turn (or frees held back from an earlier
  // one): flush visits those, not every worker.
  std::vector<WorkerId> filled_outboxes_;
  // A big plan's end frees a million results in one turn: they go out in slices as they come,
  // so neither a list nor its message (a msgpack array, from a JSON one) holds them all.
  static constexpr std::size_t free_slice = 65536;
  void send_frees(WorkerId w, Outbox& box) {
    const std::string& routing = worker_routing_[w];
    // Aliases before: a free may name them; uploads too: a fetched result may be among them.
    if (!box.aliases.empty())
      send_message(router_, Message(json{{"op", op::alias}, {"pairs", std::exchange(box.aliases, json::array())}}), routing);
    for (auto& [uid, ids] : box.uploads)
      send_message(router_, Message(json{{"op", op::upload}, {"req", uid}, {"ids", ids}}), routing);
    box.uploads.clear();
    send_message(router_, Message(json{{"op", op::free}, {"ids", box.free}}), routing);
    box.free.clear();
    box.free_bytes = 0;
    box.free_since_ms = 0;
  }
  Outbox& outbox(WorkerId w) {
    Outbox& box = outboxes_[w];
    if (!box.listed) {
      box.listed = true;
      filled_outboxes_.push_back(w);
    }
    return box;
  }
  // Client futures, to release them if the client goes away.
  std::unordered_map<std::string, std::unordered_map<TaskId, std::uint32_t>> kept_by_client_;
  std::unordered_map<ClientId, std::string> client_routing_;
  // Watched futures: who wants to hear when each ends, and what to tell them this turn.
  std::unordered_map<TaskId, std::vector<std::string>> watchers_;
  std::unordered_map<std::string, std::pair<json, json>> settled_;  // routing -> (finished, failed)
  // Futures released "when done" (release with when_done): dropped once their task finishes,
  // at the end of that loop turn (not inside the scheduler's callback).
  std::unordered_map<TaskId, std::vector<std::pair<std::string, ObjectId>>> release_when_done_;
  std::vector<std::pair<std::string, ObjectId>> due_releases_;
  ClientId next_client_ = 0;
  // Names this run of the server: a client tells a restarted server on the same port from the
  // one it knew (task ids start again, so what it remembered of plans no longer applies).
  const std::string instance_ = random_instance();
  // Connections the socket monitor saw close (their fds, until reused), so a dead client is
  // told from a paused one; and recently ended sessions, so a late client hears why.
  std::unordered_set<int> closed_fds_;
  // Workers whose connection closed this turn: lost at the end of its reading (their process
  // is gone; waiting for the heartbeat timeout only placed tasks on a dead worker meanwhile).
  std::vector<std::string> closed_workers_;
  std::unordered_map<std::string, std::string> ended_sessions_;
  std::deque<std::string> ended_order_;
  log::Throttle malformed_{"malformed messages"};  // a peer must not flood the log
  // Retiring workers, and when each was told to stop (0: not yet): one that does not say
  // goodbye within a few seconds is dropped as lost.
  std::unordered_map<WorkerId, std::int64_t> retiring_;
  // Peers' silences are measured on it: only time the loop was reading its socket counts.
  AttentionClock attention_{max_attention_gap_ms(options_), steady_ms()};
};

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

void ServerLoop::submit(const std::string& routing, Peer& peer, Message& m) {
  json req = m.header.value("req", json());
  try {
    PlanRequest plan = decode_plan(m);
    std::vector<PlanCheckpoint> checkpoints = decode_checkpoints(m, plan.type_of.size());
    for (const PlanCheckpoint& c : checkpoints)
      if (plan.outputs.count(c.local) && plan.outputs.at(c.local).count() != 1)
        throw PlanError("task " + std::to_string(c.local) + " of the plan has a checkpoint file but not one output: " +
                        "a checkpoint holds one object");
    std::vector<std::uint32_t> keep = plan.keep;
    TaskId base = scheduler_.submit(peer.id, std::move(plan));
    scheduler_.use_checkpoints(base, checkpoints);
    auto& kept = kept_by_client_[routing];
    // A future on a task holds each of its outputs, released one by one (or the task itself
    // when it has none).
    for (auto k : keep) {
      const std::uint32_t outputs = scheduler_.output_count(base + k);
      if (outputs == 0) ++kept[base + k];
      for (std::uint32_t o = 0; o < outputs; ++o) ++kept[object_id(base + k, o)];
    }
    send_message(router_, Message(json{{"op", op::submitted}, {"req", req}, {"base", base}}), routing);
  } catch (const PlanError& e) {
    reply_error(routing, req, e.what());
  } catch (const ProtocolError& e) {
    const std::string from = describe(routing);
    malformed_.warn(from, "malformed 'submit' plan from ", from, ": ", e.what());
    reply_error(routing, req, std::string("malformed 'submit' plan: ") + e.what());
  }
}

void ServerLoop::wait_or_fetch(const std::string& routing, Message& m, bool fetch) {
  ClientRequest request;
  request.client = routing;
  request.req = fields::unsigned_integer(m.header, "req");
  request.fetch = fetch;
  request.ids = fields::ids(m.header, "ids");
  // A wait names tasks (or objects: their tasks); a fetch names objects.
  for (ObjectId id : request.ids) {
    const TaskId task = task_of(id);
    if (!scheduler_.exists(task) || scheduler_.task(task).keeps == 0)
      return reply_error(routing, request.req, "task " + std::to_string(task) + " is not a live future (released?)");
    if (fetch && output_of(id) >= scheduler_.output_count(task))
      return reply_error(routing, request.req,
                         "task " + std::to_string(task) + " has no output " + std::to_string(output_of(id)) + " (it has " +
                             std::to_string(scheduler_.output_count(task)) + ")");
    if (fetch && scheduler_.object_keeps(id) == 0)
      return reply_error(routing, request.req,
                         "output " + std::to_string(output_of(id)) + " of task " + std::to_string(task) +
                             " is not a live future (released?)");
    if (scheduler_.task(task).state == TaskState::failed) return send_failure(routing, request.req, task);
  }
  answer_when_finished(std::move(request));
}

// The request is answered once every task it names has finished (at once if all have).
void ServerLoop::answer_when_finished(ClientRequest request) {
  std::uint64_t rid = requests_.add(std::move(request));
  ClientRequest& r = *requests_.find(rid);
  for (ObjectId id : r.ids)
    if (scheduler_.task(task_of(id)).state != TaskState::finished) {
      requests_.watch(task_of(id), rid);
      ++r.remaining;
    }
  if (r.remaining == 0) complete(rid);
}

void ServerLoop::watch(const std::string& routing, Message& m) {
  for (ObjectId object : fields::ids(m.header, "ids")) {
    const TaskId id = task_of(object);
    if (!scheduler_.exists(id) || scheduler_.task(id).keeps == 0) continue;
    TaskState state = scheduler_.task(id).state;
    if (state == TaskState::finished || state == TaskState::failed) {
      auto& lists = settled_[routing];
      (state == TaskState::finished ? lists.first : lists.second).push_back(id);
    } else {
      watchers_[id].push_back(routing);
    }
  }
}

void ServerLoop::settle(TaskId task, bool ok) {
  auto it = watchers_.find(task);
  if (it == watchers_.end()) return;
  for (auto& routing : it->second) {
    auto& lists = settled_[routing];
    (ok ? lists.first : lists.second).push_back(task);
  }
  watchers_.erase(it);
}

void ServerLoop::kept_finished(TaskId task) {
  settle(task, true);
  auto done = release_when_done_.find(task);
  if (done != release_when_done_.end()) {
    for (auto& entry : done->second) due_releases_.push_back(std::move(entry));
    release_when_done_.erase(done);
  }
  for (auto rid : requests_.take_watchers(task)) {
    ClientRequest* r = requests_.find(rid);
    if (r && --r->remaining == 0) complete(rid);
  }
}

void ServerLoop::kept_failed(TaskId task) {
  settle(task, false);
  release_when_done_.erase(task);  // a failed task's futures stay: its failure is asked for
  for (auto rid : requests_.take_watchers(task)) {
    ClientRequest* r = requests_.find(rid);
    if (!r) continue;
    send_failure(r->client, r->req, task);
    requests_.erase(rid);
  }
}

void ServerLoop::send_failure(const std::string& client, std::uint64_t req, TaskId task) {
  const Failure* f = scheduler_.failure(task);
  TaskId origin = f ? f->origin : task;
  // The origin's plan may be freed already (a failure of long ago): its dependent still tells.
  const bool known = scheduler_.exists(origin);
  json h{{"op", op::failed},
         {"req", req},
         {"task", task},
         {"origin", origin},
         {"label", known ? scheduler_.label(origin) : std::string()},
         {"type", known ? scheduler_.type_name(scheduler_.task(origin).type) : std::string()},
         {"message", f ? f->message : std::string("failed")}};
  if (f && f->exception) h["exception"] = json::binary(std::vector<std::uint8_t>(f->exception->begin(), f->exception->end()));
  send_message(router_, Message(std::move(h)), client);
}

void ServerLoop::complete(std::uint64_t rid) {
  ClientRequest r = std::move(*requests_.find(rid));
  requests_.erase(rid);
  if (peers_.find(r.client) == peers_.end()) return;  // the client left meanwhile
  if (!r.fetch) {
    send_message(router_, Message(json{{"op", op::done}, {"req", r.req}}), r.client);
    return;
  }
  // Ask one holder of each object to upload it; the data goes to the client as it comes.
  std::unordered_map<WorkerId, std::vector<TaskId>> by_worker;
  for (ObjectId id : r.ids) {
    if (!scheduler_.exists(task_of(id)) || scheduler_.locations(id).empty())  // released meanwhile
      return reply_error(r.client, r.req, "object " + std::to_string(id) + " was released before it could be fetched");
    by_worker[scheduler_.locations(id).front()].push_back(id);
  }
  for (auto& [worker, ids] : by_worker) {
    std::uint64_t uid = requests_.add_upload(Upload{r.client, r.req, worker, ids});
    outbox(worker).uploads.emplace_back(uid, ids);  // after this turn's aliases reach the worker
  }
}

void ServerLoop::worker_data(Message& m) {
  Upload upload;
  std::uint64_t req = fields::unsigned_integer(m.header, "req");
  fields::list(m.header, "objects", fields::max_ids);  // the client decodes them
  if (fields::has(m.header, "packed")) fields::map(m.header, "packed");
  if (!requests_.take_upload(req, upload)) return;
  if (peers_.find(upload.client) == peers_.end()) return;
  m.header["req"] = upload.req;
  send_message(router_, std::move(m), upload.client);
}

// What tasks print goes to the client that submitted them, as it comes.
void ServerLoop::task_output(Message& m) {
  std::unordered_map<ClientId, json> by_client;
  fields::list(m.header, "items", fields::max_ids);
  for (auto& item : m.header["items"]) {
    if (!item.is_object()) throw ProtocolError("field 'items' must be a list of maps {id, stream, text}");
    TaskId id = fields::unsigned_integer(item, "id");
    fields::text(item, "stream", fields::max_name, true);
    fields::bytes(item, "text", fields::max_message);
    if (!scheduler_.exists(id)) continue;
    auto& items = by_client[scheduler_.plan_of(id).client];
    if (items.is_null()) items = json::array();
    item["label"] = scheduler_.label(id);
    items.push_back(std::move(item));
  }
  for (auto& [client, items] : by_client) {
    auto it = client_routing_.find(client);
    if (it == client_routing_.end()) continue;
    auto peer = peers_.find(it->second);
    if (peer != peers_.end() && peer->second.away) {
      hold_output(peer->second, std::move(items));
      continue;
    }
    send_message(router_, Message(json{{"op", op::output}, {"items", std::move(items)}}), it->second);
  }
}

// Kept for the client's return, up to a bound: a client away for minutes must not fill the
// server's memory with what its tasks print.
void ServerLoop::hold_output(Peer& peer, json&& items) {
  HeldOutput& held = peer.held;
  for (auto& item : items) {
    const json& text = item.at("text");
    std::size_t size = text.is_binary() ? text.get_binary().size() : text.dump().size();
    if (held.bytes + size > held_output_limit) {
      ++held.dropped;
      held.last_dropped = item.at("id").get<TaskId>();
      continue;
    }
    held.bytes += size;
    held.items.push_back(std::move(item));
  }
}

void ServerLoop::client_back(const std::string& routing, Peer& peer) {
  peer.away = false;
  log::info("client ", peer.name, " is back");
  HeldOutput held = std::move(peer.held);
  peer.held = HeldOutput{};
  if (held.dropped) {
    std::string note = "[treadle: " + std::to_string(held.dropped) +
                       " more pieces of output were dropped while this client was away]\n";
    held.items.push_back({{"id", held.last_dropped},
                          {"label", scheduler_.exists(held.last_dropped) ? scheduler_.label(held.last_dropped) : ""},
                          {"stream", "stderr"},
                          {"text", json::binary(std::vector<std::uint8_t>(note.begin(), note.end()))}});
  }
  if (!held.items.empty())
    send_message(router_, Message(json{{"op", op::output}, {"items", std::move(held.items)}}), routing);
}

void ServerLoop::redirect(Peer& peer, Message& m) {
  TaskId id = fields::unsigned_integer(m.header, "id");
  try {
    PlanRequest plan = decode_plan(m);
    scheduler_.redirect(peer.id, id, std::move(plan));
  } catch (const std::exception& e) {
    scheduler_.task_failed(peer.id, id, std::string("the task returned a plan that cannot run: ") + e.what());
  }
}

void ServerLoop::release(const std::string& routing, Message& m) {
  std::vector<TaskId> ids = fields::ids(m.header, "ids");
  auto& mine = kept_by_client_[routing];
  // when_done: a future whose task has not ended stays until the task finishes (so it runs,
  // and its consumers' waits see it); a failed task's future stays (its failure is asked for).
  const bool when_done = fields::has(m.header, "when_done") && m.header.at("when_done") == true;
  for (TaskId id : ids) {
    auto it = mine.find(id);
    if (it == mine.end()) continue;  // not this client's future: ignore, never double-release
    if (when_done) {
      const TaskState state = scheduler_.task(task_of(id)).state;  // kept, so its plan is not freed
      if (state == TaskState::failed) continue;
      if (state != TaskState::finished) {
        release_when_done_[task_of(id)].emplace_back(routing, id);
        continue;
      }
    }
    if (--it->second == 0) mine.erase(it);
    scheduler_.release(id);
  }
}

void ServerLoop::release_due() {
  auto due = std::move(due_releases_);
  due_releases_.clear();
  for (auto& [routing, id] : due) {
    auto kept = kept_by_client_.find(routing);
    if (kept == kept_by_client_.end()) continue;  // the client left: its futures went with it
    auto it = kept->second.find(id);
    if (it == kept->second.end()) continue;  // released meanwhile
    if (--it->second == 0) kept->second.erase(it);
    scheduler_.release(id);
  }
}

// Releases those of the client's futures whose tasks have not ended, and says what that really
// cancelled: tasks that will not run now (inputs nobody else needs included). Futures that
// ended are kept (their results stay fetchable) and named in the answer.
void ServerLoop::cancel(const std::string& routing, Message& m) {
  std::vector<TaskId> ids = fields::ids(m.header, "ids");
  auto& mine = kept_by_client_[routing];
  const std::uint64_t cancelled_before = scheduler_.cancelled_count();
  std::vector<TaskId> ended;
  for (TaskId id : ids) {
    auto it = mine.find(id);
    if (it == mine.end()) continue;  // not this client's future: ignore, never double-release
    const TaskState state = scheduler_.task(id).state;  // kept, so its plan is not freed
    if (state == TaskState::finished || state == TaskState::failed) {
      ended.push_back(id);
      continue;
    }
    if (--it->second == 0) mine.erase(it);
    release_when_done_.erase(task_of(id));  // it will not finish now
    scheduler_.release(id);
  }
  send_message(router_,
               Message(json{{"op", op::cancelled},
                            {"req", m.header.value("req", json())},
                            {"cancelled", scheduler_.cancelled_count() - cancelled_before},
                            {"ended", ended}}),
               routing);
}

void ServerLoop::status(const std::string& routing, Message& m) {
  // With `ids`: each worker's task and object ids too (Rain's get_server_info), a walk over
  // every live task.
  const bool with_ids = fields::has(m.header, "ids") && m.header.at("ids") == true;
  const auto contents = with_ids ? worker_contents(scheduler_) : std::unordered_map<WorkerId, WorkerContents>{};
  json workers = json::array();
  for (auto& w : scheduler_.workers()) {
    if (!w->alive) continue;
    json info = {{"id", w->id},
                 {"name", w->name},
                 {"address", w->data_address},
                 {"cpus", w->cpus},
                 // What executes there now, not what was sent: queued tasks wait for a cpu,
                 // an executor or their inputs (placement's own free_cpus counts them too).
                 {"free_cpus", std::max<std::int64_t>(0, std::int64_t(w->cpus) - std::int64_t(w->running_cpus))},
                 {"running", w->running_tasks},
                 {"queued", w->queued_tasks},
                 {"tasks_done", w->tasks_done},
                 {"retiring", w->retiring},
                 {"task_us", static_cast<std::int64_t>(w->task_us)}};
    if (w->id < samples_.size() && samples_[w->id].at_us) {
      const WorkerSample& s = samples_[w->id];
      info["cpu"] = s.cpu_percent;
      info["rss"] = s.rss;
      info["store"] = s.store;
      info["spilled"] = s.spilled;
      info["objects"] = s.objects;
      info["fetched_bytes"] = s.fetched_bytes;
      info["handed_bytes"] = s.handed_bytes;
      info["receiving"] = s.receiving;
      info["receive_pool"] = s.receive_pool;
      info["reused_bytes"] = s.reused_bytes;
      info["sampled_us"] = s.at_us;
    }
    if (with_ids) {
      auto it = contents.find(w->id);
      info["task_ids"] = it == contents.end() ? json::array() : json(it->second.tasks);
      info["object_ids"] = it == contents.end() ? json::array() : json(it->second.objects);
    }
    workers.push_back(std::move(info));
  }
  json states = json::object();
  for (int s = 0; s < task_state_count; ++s)
    states[state_name(static_cast<TaskState>(s))] = scheduler_.count(static_cast<TaskState>(s));
  std::size_t clients = 0, away = 0;
  for (auto& [r, p] : peers_) {
    clients += p.role == Peer::Role::client;
    away += p.away;
  }
  send_message(router_,
               Message(json{{"op", op::status_reply},
                            {"req", m.header.value("req", json())},
                            {"workers", workers},
                            {"clients", clients},
                            {"clients_away", away},
                            {"tasks", scheduler_.task_count()},
                            {"states", states},
                            {"steals", scheduler_.steals_pending()},
                            {"memory", scheduler_.memory_estimate()},
                            {"lost_workers", lost_workers_.to_json()}}),
               routing);
}

// A worker's heartbeat carries a sample of its cpu and memory use.
void ServerLoop::sample(Peer& peer, Message& m) {
  WorkerSample s;
  s.at_us = fields::has(m.header, "t") ? fields::integer(m.header, "t") : wall_us();
  s.cpu_percent = fields::number(m.header, "cpu", 0, 1e6);
  for (auto [name, value] : {std::pair{"rss", &s.rss}, {"store", &s.store}, {"spilled", &s.spilled},
                             {"objects", &s.objects}, {"fetched_bytes", &s.fetched_bytes},
                             {"handed_bytes", &s.handed_bytes}, {"receiving", &s.receiving},
                             {"receive_pool", &s.receive_pool},
                             {"reused_bytes", &s.reused_bytes}})
    *value = fields::has(m.header, name) ? fields::unsigned_integer(m.header, name) : 0;
  if (peer.id < samples_.size()) samples_[peer.id] = s;
  trace_.record_sample(peer.id, s);
}

// The state of each task, one byte per id (index into `names`): for a live graph's colours.
// A task of a freed plan is forgotten but for whether it was cancelled: "cancelled", else
// "released" (it finished or failed). Ids the server never gave out: "unknown".
void ServerLoop::states(const std::string& routing, Message& m) {
  const json& ids = fields::list(m.header, "ids", fields::max_ids);  // an id that is no id: "unknown"
  std::vector<std::uint8_t> codes;
  codes.reserve(ids.size());
  const std::uint8_t unknown = task_state_count;
  for (const json& v : ids) {
    if (!v.is_number_unsigned()) {
      codes.push_back(unknown);
      continue;
    }
    TaskId id = v.get<TaskId>();
    if (id < scheduler_.task_count()) codes.push_back(static_cast<std::uint8_t>(scheduler_.state_of(id)));
    else codes.push_back(unknown);
  }
  json names = json::array();
  for (int s = 0; s < task_state_count; ++s) names.push_back(state_name(static_cast<TaskState>(s)));
  names.push_back("unknown");
  send_message(router_,
               Message(json{{"op", op::states_reply},
                            {"req", m.header.value("req", json())},
                            {"names", std::move(names)},
                            {"codes", json::binary(std::move(codes))}}),
               routing);
}

// Each task's recent transitions and, for one still waiting, why (task_story.hpp).
void ServerLoop::story(const std::string& routing, Message& m) {
  json req = m.header.value("req", json());
  std::vector<TaskId> ids = fields::ids(m.header, "ids", max_story_ids);
  try {
    json stories = task_stories(scheduler_, ids);
    send_message(router_, Message(json{{"op", op::story_reply}, {"req", req}, {"stories", std::move(stories)}}), routing);
  } catch (const StoryError& e) {
    reply_error(routing, req, e.what());
  }
}

void ServerLoop::finished(Peer& peer, Message& m) {
  FinishedBatch b = FinishedBatch::decode(m);
  record_finished(peer.id, b);
  for (TaskId id : b.started) scheduler_.task_started(peer.id, id);
  for (std::size_t i = 0; i < b.objects.size(); ++i)
    scheduler_.output_made(peer.id, b.objects[i], b.object_sizes[i], b.object_lengths[i], b.object_kinds[i]);
  for (std::size_t i = 0; i < b.ids.size(); ++i)
    scheduler_.task_finished(peer.id, b.ids[i], b.sizes[i], b.lengths[i], b.end_us[i] - b.start_us[i], b.kinds[i]);
  for (TaskId id : b.replicas) scheduler_.data_replicated(peer.id, id);
  for (TaskId id : b.aliased) scheduler_.alias_held(peer.id, id);
}

void ServerLoop::record_finished(WorkerId worker, const FinishedBatch& b) {
  for (std::size_t i = 0; i < b.ids.size(); ++i) {
    TaskId id = b.ids[i];
    if (!scheduler_.exists(id)) continue;
    trace_.record_task(scheduler_, worker, id, b.lanes[i], b.start_us[i], b.end_us[i], b.sizes[i]);
  }
  // The senders, by their data addresses: looked up once per peer, not once per copy.
  std::vector<WorkerId> senders;
  senders.reserve(b.transfer_peers.size());
  for (const std::string& address : b.transfer_peers) {
    auto it = worker_by_address_.find(address);
    senders.push_back(it == worker_by_address_.end() ? no_worker : it->second);
  }
  for (std::size_t i = 0; i < b.replicas.size(); ++i)
    trace_.record_transfer(worker, senders[b.transfer_from[i]], b.replicas[i], b.transfer_start_us[i],
                           b.transfer_end_us[i], b.transfer_sizes[i]);
  trace_.flush();  // a batch at a time: the file is readable while the run goes on
}

// {limit}: recent events; {path}: record everything from now on into path (empty: stop).
void ServerLoop::trace(const std::string& routing, Message& m) {
  json req = m.header.value("req", json());
  std::vector<std::string> kinds;
  if (fields::has(m.header, "kinds")) kinds = fields::texts(m.header, "kinds", 64, fields::max_name);
  std::size_t limit = fields::has(m.header, "limit") ? fields::unsigned_integer(m.header, "limit") : 100000;
  try {
    if (fields::has(m.header, "path")) trace_.write_to(fields::text(m.header, "path", fields::max_path));
  } catch (const ProtocolError&) {
    throw;
  } catch (const std::exception& e) {
    return reply_error(routing, req, e.what());
  }
  json reply = trace_.recent(limit, kinds);
  json workers = json::array();
  for (auto& w : scheduler_.workers())
    workers.push_back({{"id", w->id}, {"name", w->name}, {"cpus", w->cpus}, {"alive", w->alive}});
  reply["workers"] = std::move(workers);
  reply["op"] = op::trace_reply;
  reply["req"] = req;
  send_message(router_, Message(std::move(reply)), routing);
}

// Workers asked to leave (docs/architecture.md, "Retiring"): checked all at once, so a bad
// id retires none of them.
void ServerLoop::retire(const std::string& routing, Message& m) {
  std::vector<WorkerId> ids;
  for (std::uint64_t id : fields::ids(m.header, "workers", 4096)) {
    const WorkerInfo* w = scheduler_.worker(static_cast<WorkerId>(id));
    if (!w || !w->alive) {
      return reply_error(routing, m.header.value("req", json()),
                         "retire: no connected worker has id " + std::to_string(id) + " (see status)");
    }
    ids.push_back(static_cast<WorkerId>(id));
  }
  json names = json::array();
  for (WorkerId id : ids) {
    if (!scheduler_.worker(id)->retiring) {
      scheduler_.retire_worker(id);
      retiring_.emplace(id, 0);
      trace_.record_worker(TraceEvent::Kind::worker_retiring, id, scheduler_.worker(id)->name, wall_us());
    }
    names.push_back(scheduler_.worker(id)->name);
  }
  send_message(router_, Message(json{{"op", op::retiring}, {"req", m.header.value("req", json())}, {"workers", names}}),
               routing);
}

// A retiring worker with nothing running and its objects copied elsewhere is told to stop; it
// says goodbye and leaves, losing nothing. One that stays silent is dropped after 5 s.
void ServerLoop::stop_retired_workers() {
  const std::int64_t now = steady_ms();
  std::vector<WorkerId> silent;
  for (auto& [id, told_ms] : retiring_) {
    if (told_ms) {
      if (now - told_ms > 5000) silent.push_back(id);
      continue;
    }
    if (!scheduler_.retire_done(id)) continue;
    told_ms = now;
    send_message(router_, Message(json{{"op", op::retire}}), worker_routing_[id]);
  }
  for (WorkerId id : silent) lose_peer(worker_routing_[id], "retired, but it did not stop");
}

void ServerLoop::reply_error(const std::string& routing, const json& req, const std::string& message) {
  send_message(router_, Message(json{{"op", op::error}, {"req", req}, {"message", message}}), routing);
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
      if (silent > options_.worker_timeout_ms) gone.emplace_back(routing, "no heartbeat");
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
  for (auto& [routing, lists] : settled_) {
    if (peers_.find(routing) == peers_.end()) continue;
    json finished = lists.first.is_null() ? json::array() : std::move(lists.first);
    json failed = lists.second.is_null() ? json::array() : std::move(lists.second);
    send_message(router_, Message(json{{"op", op::settled}, {"finished", std::move(finished)}, {"failed", std::move(failed)}}),
                 routing);
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

}  // namespace

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
