#include "trace_recorder.hpp"

#include <algorithm>
#include <filesystem>

#include "scheduler.hpp"

namespace treadle {

const char* trace_kind_name(TraceEvent::Kind kind) {
  switch (kind) {
    case TraceEvent::Kind::task: return "task";
    case TraceEvent::Kind::transfer: return "transfer";
    case TraceEvent::Kind::worker_joined: return "worker_joined";
    case TraceEvent::Kind::worker_lost: return "worker_lost";
    case TraceEvent::Kind::decision: return "decision";
    case TraceEvent::Kind::sample: return "sample";
    case TraceEvent::Kind::worker_retiring: return "worker_retiring";
    case TraceEvent::Kind::worker_retired: return "worker_retired";
    case TraceEvent::Kind::cancelled: return "cancelled";
  }
  return "?";
}

std::string decision_text(const TraceEvent& e, const std::string& lost_worker) {
  std::string text;
  switch (static_cast<Placement>(e.reason)) {
    case Placement::chained: text = "chained behind its inputs on the same worker"; break;
    case Placement::locality:
      text = "data locality (" + std::to_string(e.size) + " of " + std::to_string(e.total) + " input bytes there)";
      break;
    case Placement::with_consumer: text = "next to the other inputs of its consumer"; break;
    case Placement::least_loaded: text = "least loaded worker"; break;
    case Placement::only_fit: text = "only worker that fits (cpus, task type)"; break;
    case Placement::only_worker: text = "only worker connected"; break;
    case Placement::stolen:
      text = "moved from worker " + std::to_string(e.other) + "'s queue: it starts sooner on this idle worker";
      break;
  }
  if (e.queued) text += ", queued: no worker had cpus free";
  switch (static_cast<PlacementCause>(e.cause)) {
    case PlacementCause::first: break;
    case PlacementCause::worker_lost:
      // Named as the task's story names it (core/story.py): "placed again because worker W was lost".
      text += lost_worker.empty() ? "; placed again because a worker was lost"
                                  : "; placed again because worker " + lost_worker + " was lost";
      break;
    case PlacementCause::recomputed: text += "; recomputed (its result was lost)"; break;
  }
  return text;
}

namespace {

// "ValueError: Task id=6 (bad) failed: ValueError: hit zero" (a task raised again what a task it
// waited on raised) -> "ValueError: hit zero": the exception's own line, as its traceback reads.
std::string_view unnested(std::string_view line) {
  for (;;) {
    const std::size_t colon = line.find(": Task id=");
    if (colon == 0 || colon == std::string_view::npos || line.substr(0, colon).find(' ') != std::string_view::npos)
      return line;
    const std::size_t failed = line.find(" failed: ", colon);
    if (failed == std::string_view::npos) return line;
    const std::string_view rest = line.substr(failed + 9);
    const std::string_view type = line.substr(0, colon + 2);   // "ValueError: "
    if (rest.substr(0, type.size()) != type) return line;
    line = rest;
  }
}

}  // namespace

std::string failure_headline(const std::string& message) {
  std::vector<std::string_view> lines;
  std::string_view rest(message);
  while (!rest.empty()) {
    std::size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (!line.empty() && line.front() != ' ' && line.substr(0, 11) != "(on worker ") lines.push_back(line);
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  if (lines.empty()) return std::string();
  const bool traceback = lines.front().substr(0, 9) == "Traceback";
  std::string_view pick = unnested(traceback ? lines.back() : lines.front());
  return std::string(pick.substr(0, 200));
}

std::uint32_t TraceRecorder::intern(const std::string& s, std::vector<std::string>& table,
                                    std::unordered_map<std::string, std::uint32_t>& ids) {
  auto it = ids.find(s);
  if (it != ids.end()) return it->second;
  auto id = static_cast<std::uint32_t>(table.size());
  table.push_back(s);
  ids.emplace(s, id);
  return id;
}

void TraceRecorder::record(const TraceEvent& event) {
  ++recorded_;
  if (ring_.size() < capacity_) {
    ring_.push_back(event);  // within the capacity reserved at construction: never reallocates
  } else if (capacity_ > 0) {
    ring_[next_] = event;
    next_ = (next_ + 1) % capacity_;
  }
  if (file_.is_open()) file_ << as_json(event).dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
}

TraceEvent TraceRecorder::task_event(const Scheduler& scheduler, WorkerId worker, TaskId task, std::uint32_t lane,
                                      std::int64_t start_us, std::int64_t end_us) {
  TraceEvent e;
  e.kind = TraceEvent::Kind::task;
  e.worker = worker;
  e.other = lane;
  e.task = task;
  e.start_us = start_us;
  e.end_us = end_us;
  const TaskRecord& t = scheduler.task(task);
  e.ready_us = scheduler.details(task).ready_us;
  e.label = intern_label(scheduler.label(task));
  e.type = intern_type(scheduler.type_name(t.type));
  return e;
}

void TraceRecorder::record_task(const Scheduler& scheduler, WorkerId worker, TaskId task, std::uint32_t lane,
                                std::int64_t start_us, std::int64_t end_us, std::uint64_t size) {
  TraceEvent e = task_event(scheduler, worker, task, lane, start_us, end_us);
  e.size = size;
  e.outputs = scheduler.output_count(task);
  running_since_.erase(task);
  record(e);
}

void TraceRecorder::record_failed_task(const Scheduler& scheduler, WorkerId worker, TaskId task, std::uint32_t lane,
                                       std::int64_t start_us, std::int64_t end_us, const std::string& error) {
  TraceEvent e = task_event(scheduler, worker, task, lane, start_us, end_us);
  e.cause = 1;
  e.outputs = 0;
  // Distinct errors are kept up to a bound (a session may fail in many ways); beyond, none.
  if (errors_.empty()) intern(std::string(), errors_, error_ids_);  // 0: no error kept
  const std::string headline = failure_headline(error);
  e.total = error_ids_.count(headline) || errors_.size() < max_errors ? intern(headline, errors_, error_ids_) : 0;
  running_since_.erase(task);
  record(e);
}

void TraceRecorder::record_transfer(WorkerId to, WorkerId from, TaskId object, std::int64_t start_us,
                                    std::int64_t end_us, std::uint64_t size) {
  TraceEvent e;
  e.kind = TraceEvent::Kind::transfer;
  e.worker = to;
  e.other = from;
  e.task = object;
  e.start_us = start_us;
  e.end_us = end_us;
  e.size = size;
  record(e);
}

void TraceRecorder::record_worker(TraceEvent::Kind kind, WorkerId worker, const std::string& name, std::int64_t at_us,
                                  const std::string& reason) {
  TraceEvent e;
  e.kind = kind;
  e.worker = worker;
  e.start_us = e.end_us = at_us;
  e.label = intern_label(name);
  if (kind == TraceEvent::Kind::worker_lost) e.type = intern_label(reason);
  record(e);
}

void TraceRecorder::record_sample(WorkerId worker, const WorkerSample& s) {
  TraceEvent e;
  e.kind = TraceEvent::Kind::sample;
  e.worker = worker;
  e.start_us = e.end_us = s.at_us;
  double tenths = std::clamp(s.cpu_percent * 10.0 + 0.5, 0.0, 4e9);
  e.other = static_cast<std::uint32_t>(tenths);
  e.size = s.rss;
  e.total = s.store;
  e.task = s.spilled;
  record(e);
}

void TraceRecorder::on_assigned(const Decision& d) {
  TraceEvent e;
  e.kind = TraceEvent::Kind::decision;
  e.reason = static_cast<std::uint8_t>(d.reason);
  e.cause = static_cast<std::uint8_t>(d.cause);
  e.queued = d.queued;
  e.worker = d.worker;
  e.task = d.task;
  e.start_us = e.end_us = d.at_us;
  e.ready_us = d.ready_us;
  e.size = d.local_bytes;
  e.total = d.input_bytes;
  if (d.reason == Placement::stolen) e.other = d.from;
  if (d.cause == PlacementCause::worker_lost) {
    const WorkerInfo* lost = scheduler_ && d.lost_worker != no_worker ? scheduler_->worker(d.lost_worker) : nullptr;
    e.label = intern_label(lost ? lost->name : std::string());
  }
  record(e);
}

void TraceRecorder::on_started(TaskId task, WorkerId, std::int64_t at_us) {
  if (running_since_.size() >= max_running) running_since_.clear();  // stale entries (lost workers'): drop all
  running_since_[task] = at_us;
}

void TraceRecorder::on_cancelled(TaskId task, WorkerId worker, bool running, std::int64_t at_us) {
  TraceEvent e;
  e.kind = TraceEvent::Kind::cancelled;
  e.worker = worker;
  e.task = task;
  e.queued = !running;
  e.start_us = e.end_us = at_us;
  auto since = running_since_.find(task);
  if (since != running_since_.end()) {
    if (running && since->second <= at_us) e.ready_us = since->second;
    running_since_.erase(since);
  }
  if (scheduler_) {  // still in the scheduler's books: the cancel happens inside its transition
    e.label = intern_label(scheduler_->label(task));
    e.type = intern_type(scheduler_->type_name(scheduler_->task(task).type));
  } else {
    e.type = intern_type(std::string());  // (label 0 and type 0 may name another task's)
    e.label = intern_label(std::string());
  }
  record(e);
}

void TraceRecorder::observe(Scheduler& scheduler) {
  scheduler.add_observer(this);
  scheduler_ = &scheduler;
}

json TraceRecorder::as_json(const TraceEvent& e) const {
  json out = {{"kind", trace_kind_name(e.kind)}, {"worker", e.worker}, {"start_us", e.start_us}, {"end_us", e.end_us}};
  switch (e.kind) {
    case TraceEvent::Kind::task:
      out["task"] = e.task;
      out["lane"] = e.other;
      out["size"] = e.size;
      out["label"] = labels_[e.label];
      out["type"] = types_[e.type];
      if (e.ready_us >= 0) out["ready_us"] = e.ready_us;
      if (e.cause) {
        out["failed"] = true;
        if (e.total < errors_.size() && !errors_[e.total].empty()) out["error"] = errors_[e.total];
      } else if (e.outputs != 1) {
        out["outputs"] = e.outputs;
      }
      break;
    case TraceEvent::Kind::transfer:
      out["object"] = e.task;
      out["task"] = task_of(e.task);  // the object is output `output` of that task
      out["output"] = output_of(e.task);
      out["from"] = e.other;
      out["size"] = e.size;
      break;
    case TraceEvent::Kind::decision:
      out["task"] = e.task;
      out["reason"] = placement_name(static_cast<Placement>(e.reason));
      out["cause"] = cause_name(static_cast<PlacementCause>(e.cause));
      out["queued"] = e.queued != 0;
      out["local_bytes"] = e.size;
      out["input_bytes"] = e.total;
      if (static_cast<PlacementCause>(e.cause) == PlacementCause::worker_lost && !labels_[e.label].empty())
        out["lost_worker"] = labels_[e.label];
      out["why"] = decision_text(e, static_cast<PlacementCause>(e.cause) == PlacementCause::worker_lost
                                        ? labels_[e.label] : std::string());
      if (static_cast<Placement>(e.reason) == Placement::stolen) out["from"] = e.other;
      if (e.ready_us >= 0) out["ready_us"] = e.ready_us;
      break;
    case TraceEvent::Kind::sample:
      out["cpu"] = e.other / 10.0;
      out["rss"] = e.size;
      out["store"] = e.total;
      out["spilled"] = e.task;
      break;
    case TraceEvent::Kind::cancelled:
      out["task"] = e.task;
      out["running"] = e.queued == 0;
      if (e.ready_us >= 0) out["started_us"] = e.ready_us;
      out["label"] = labels_[e.label];
      out["type"] = types_[e.type];
      break;
    case TraceEvent::Kind::worker_lost:
      out["name"] = labels_[e.label];
      out["reason"] = labels_[e.type];
      break;
    case TraceEvent::Kind::worker_joined:
    case TraceEvent::Kind::worker_retiring:
    case TraceEvent::Kind::worker_retired:
      out["name"] = labels_[e.label];
      break;
  }
  return out;
}

void TraceRecorder::write_to(const std::string& path) {
  if (file_.is_open()) file_.close();
  file_path_.clear();
  if (path.empty()) return;
  std::filesystem::create_directories(path);
  std::string file = (std::filesystem::path(path) / "server.trace.jsonl").string();
  file_.open(file, std::ios::app);
  if (!file_) throw std::runtime_error("cannot write a trace to " + file);
  file_path_ = file;
}

json TraceRecorder::recent(std::size_t limit, const std::vector<std::string>& kinds) const {
  bool wanted[TraceEvent::kind_count] = {};
  for (auto& k : kinds)
    for (int i = 0; i < TraceEvent::kind_count; ++i)
      if (k == trace_kind_name(static_cast<TraceEvent::Kind>(i))) wanted[i] = true;
  // Newest first until `limit` matched, then oldest first.
  std::vector<const TraceEvent*> picked;
  const std::size_t n = ring_.size();
  for (std::size_t back = 0; back < n && picked.size() < limit; ++back) {
    const TraceEvent& e = ring_[(next_ + n - 1 - back) % n];
    if (kinds.empty() || wanted[static_cast<int>(e.kind)]) picked.push_back(&e);
  }
  json events = json::array();
  for (auto it = picked.rbegin(); it != picked.rend(); ++it) events.push_back(as_json(**it));
  return {{"events", std::move(events)}, {"recorded", recorded_}, {"file", file_path_}};
}

}  // namespace treadle
