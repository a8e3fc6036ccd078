#pragma once
// The server's loop (server.cpp) and what it keeps per peer: one class, its member functions
// spread over server.cpp (the poll loop, connections), client_messages.cpp and worker_messages.cpp.
#include "../common/clock.hpp"
#include "server.hpp"

#include <algorithm>
#include <chrono>
#include <deque>
#include <unordered_map>
#include <unordered_set>

#include "../common/attention_clock.hpp"
#include "../common/batches.hpp"
#include "../common/log.hpp"
#include "../common/log_throttle.hpp"
#include "../common/message_fields.hpp"
#include "../common/protocol.hpp"
#include "client_requests.hpp"
#include "compute_batch_builder.hpp"
#include "lost_workers.hpp"
#include "scheduler.hpp"
#include "trace_recorder.hpp"

namespace treadle {

// What an away client's tasks printed, held until it is back (up to held_output_limit bytes).
struct HeldOutput {
  json items = json::array();
  std::size_t bytes = 0;
  std::size_t dropped = 0;  // items beyond the limit
  TaskId last_dropped = 0;
};
constexpr std::size_t held_output_limit = 4u << 20;

// 64 random bits in hex: a name for this run of the server (server.cpp).
std::string random_instance();

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
  void unkept_ended(TaskId t, TaskState end) override;
  void task_cancelled(TaskId t) override;

 private:
  void handle(const std::string& routing, Message& m, int fd);
  void hello(const std::string& routing, Message& m);
  void submit(const std::string& routing, Peer& peer, Message& m);
  void wait_or_fetch(const std::string& routing, Message& m, bool fetch);
  void answer_when_finished(ClientRequest request);
  void tell_end(TaskId task, TaskState end);
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
  void settle(TaskId task, TaskState end);  // finished, failed or cancelled
  void finished(Peer& peer, Message& m);
  void worker_data(Message& m);
  void task_output(Message& m);
  void redirect(Peer& peer, Message& m);
  void complete(std::uint64_t request_id);
  void send_failure(const std::string& client, std::uint64_t req, TaskId task);
  void reply_error(const std::string& routing, const json& req, const std::string& message, const char* code = nullptr);
  void check_heartbeats();
  bool bringing_bytes(const Peer& peer) const;
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
  // A cancelled task is told as an end too, so no entry outlives its task (a leak per
  // cancelled watched task) and a waiting client hears of the cancel at once; so is the end of
  // a task whose futures were released while a consumer still needed it (unkept_ended).
  std::unordered_map<TaskId, std::vector<std::string>> watchers_;
  struct SettledNews {
    json finished = json::array(), failed = json::array(), cancelled = json::array();
  };
  std::unordered_map<std::string, SettledNews> settled_;  // routing -> this turn's news
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

}  // namespace treadle
