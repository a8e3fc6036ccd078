#include "trace_recorder.hpp"

#include <filesystem>

namespace treadle {

const char* trace_kind_name(TraceEvent::Kind kind) {
  switch (kind) {
    case TraceEvent::Kind::task: return "task";
    case TraceEvent::Kind::transfer: return "transfer";
    case TraceEvent::Kind::worker_joined: return "worker_joined";
    case TraceEvent::Kind::worker_lost: return "worker_lost";
  }
  return "?";
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
    ring_.push_back(event);
  } else {
    ring_[next_] = event;
    next_ = (next_ + 1) % capacity_;
  }
  if (file_.is_open()) file_ << as_json(event).dump() << '\n';
}

json TraceRecorder::as_json(const TraceEvent& e) const {
  json out = {{"kind", trace_kind_name(e.kind)}, {"worker", e.worker}, {"start_us", e.start_us}, {"end_us", e.end_us}};
  if (e.kind == TraceEvent::Kind::task) {
    out["task"] = e.task;
    out["lane"] = e.other;
    out["size"] = e.size;
    out["label"] = labels_[e.label];
    out["type"] = types_[e.type];
  } else if (e.kind == TraceEvent::Kind::transfer) {
    out["object"] = e.task;
    out["from"] = e.other;
    out["size"] = e.size;
  } else {
    out["name"] = labels_[e.label];
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

json TraceRecorder::recent(std::size_t limit) const {
  json events = json::array();
  std::size_t n = std::min(limit, ring_.size());
  for (std::size_t i = ring_.size() - n; i < ring_.size(); ++i)
    events.push_back(as_json(ring_[(next_ + i) % ring_.size()]));
  return {{"events", std::move(events)}, {"recorded", recorded_}, {"file", file_path_}};
}

}  // namespace treadle
