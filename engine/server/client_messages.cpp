// The server loop's answers to clients: submit, wait, fetch, watch, release, cancel, status,
// states, story, trace, retire; and an away client's held output.
#include "server_loop.hpp"
#include "task_story.hpp"
#include "wire_plan.hpp"
#include "worker_contents.hpp"

namespace treadle {

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
    if (!scheduler_.exists(task) || scheduler_.keeps(task) == 0)
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
  // A fetch asked again after its uploading worker was lost may name an object that nobody
  // needs any more (its futures were released meanwhile): it is not recomputed, so refuse.
  for (ObjectId id : request.ids) {
    const TaskId task = task_of(id);
    if (!scheduler_.exists(task) || scheduler_.task(task).state == TaskState::released ||
        scheduler_.task(task).state == TaskState::cancelled)
      return reply_error(request.client, request.req,
                         "object " + std::to_string(id) + " was released before it could be fetched");
  }
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
    if (!scheduler_.exists(id) || scheduler_.keeps(id) == 0) continue;
    TaskState state = scheduler_.task(id).state;
    if (state == TaskState::finished || state == TaskState::failed) {
      auto& news = settled_[routing];
      (state == TaskState::finished ? news.finished : news.failed).push_back(id);
    } else {
      watchers_[id].push_back(routing);
    }
  }
}

void ServerLoop::settle(TaskId task, TaskState end) {
  auto it = watchers_.find(task);
  if (it == watchers_.end()) return;
  for (auto& routing : it->second) {
    auto& news = settled_[routing];
    (end == TaskState::finished ? news.finished : end == TaskState::failed ? news.failed : news.cancelled).push_back(task);
  }
  watchers_.erase(it);
}

// A cancelled task never ends otherwise: its watchers hear it now, and a wait or fetch that
// names it is refused, saying so (code "cancelled"), rather than left waiting forever.
void ServerLoop::task_cancelled(TaskId task) {
  settle(task, TaskState::cancelled);
  for (auto rid : requests_.take_watchers(task)) {
    ClientRequest* r = requests_.find(rid);
    if (!r) continue;  // its client left, or another of its tasks answered it already
    reply_error(r->client, r->req, "task " + std::to_string(task) + " was cancelled before it finished", "cancelled");
    requests_.erase(rid);
  }
}

void ServerLoop::kept_finished(TaskId task) {
  auto done = release_when_done_.find(task);
  if (done != release_when_done_.end()) {
    for (auto& entry : done->second) due_releases_.push_back(std::move(entry));
    release_when_done_.erase(done);
  }
  tell_end(task, TaskState::finished);
}

void ServerLoop::kept_failed(TaskId task) {
  release_when_done_.erase(task);  // a failed task's futures stay: its failure is asked for
  tell_end(task, TaskState::failed);
}

// No future holds it, but a wait, fetch or watch from before its last future's release may:
// it hears the end as it would have (a fetch gets the result, which is freed only after this).
void ServerLoop::unkept_ended(TaskId task, TaskState end) {
  if (watchers_.empty() && requests_.awaited_tasks() == 0) return;  // most tasks: inner ones
  tell_end(task, end);
}

// The task finished or failed: its watchers hear it, and the waits and fetches that name it
// are answered (a fetch once all its tasks finished; a failure ends the request).
void ServerLoop::tell_end(TaskId task, TaskState end) {
  settle(task, end);
  for (auto rid : requests_.take_watchers(task)) {
    ClientRequest* r = requests_.find(rid);
    if (!r) continue;  // its client left, or another of its tasks answered it already
    if (end == TaskState::finished) {
      if (--r->remaining == 0) complete(rid);
    } else {
      send_failure(r->client, r->req, task);
      requests_.erase(rid);
    }
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
  std::vector<TaskId> failed;  // of `ended`: no result stays, only the failure
  std::vector<TaskId> unheld;  // not (or no longer) its futures: e.g. released "when done" and finished
  for (TaskId id : ids) {
    auto it = mine.find(id);
    if (it == mine.end()) {  // not this client's future: ignore, never double-release
      unheld.push_back(id);
      continue;
    }
    // An output's id (task | k << 40) names its task's record by task_of, never by itself.
    const TaskState state = scheduler_.task(task_of(id)).state;  // kept, so its plan is not freed
    if (state == TaskState::finished || state == TaskState::failed) {
      ended.push_back(id);
      if (state == TaskState::failed) failed.push_back(id);
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
                            {"ended", ended},
                            {"failed", failed},
                            {"unheld", unheld}}),
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
                            // Tasks whose end someone waits to hear of: each entry goes when
                            // its task ends, fails or is cancelled (so a count that only grows is a leak).
                            {"watched", watchers_.size()},
                            {"awaited", requests_.awaited_tasks()},
                            {"lost_workers", lost_workers_.to_json()}}),
               routing);
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

}  // namespace treadle
