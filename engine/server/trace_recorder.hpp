#pragma once
// What ran where and when, for traces and reports (docs/tracing.md).
//
// Always on, in bounded memory: a ring of the most recent events. When a client asks for a
// complete record (set_trace), every event is also appended to a file as a JSON line.
#include <cstdint>
#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "../common/ids.hpp"
#include "../common/protocol.hpp"

namespace treadle {

struct TraceEvent {
  enum class Kind : std::uint8_t { task, transfer, worker_joined, worker_lost };
  Kind kind;
  std::uint32_t worker;      // where it ran / who received / which worker
  std::uint32_t other;       // task: lane (0 loop, 1 thread, 2+i executor i); transfer: the sender
  TaskId task;               // the task, or the object moved
  std::int64_t start_us, end_us;
  std::uint64_t size;
  std::uint32_t label;       // index into labels()
  std::uint32_t type;        // index into types()
};

class TraceRecorder {
 public:
  explicit TraceRecorder(std::size_t capacity = 200000) : capacity_(capacity) {}
  std::uint32_t intern_label(const std::string& label) { return intern(label, labels_, label_ids_); }
  std::uint32_t intern_type(const std::string& type) { return intern(type, types_, type_ids_); }
  void record(const TraceEvent& event);
  // Records from now on also go to `path` (JSON lines); empty: stop. Throws on a bad path.
  void write_to(const std::string& path);
  const std::string& file() const { return file_path_; }
  void flush() {
    if (file_.is_open()) file_.flush();
  }
  // The most recent `limit` events, oldest first, as {labels, types, events: [[...]...]}.
  json recent(std::size_t limit) const;
  std::uint64_t recorded() const { return recorded_; }

 private:
  static std::uint32_t intern(const std::string& s, std::vector<std::string>& table,
                              std::unordered_map<std::string, std::uint32_t>& ids);
  json as_json(const TraceEvent& e) const;
  std::size_t capacity_;
  std::vector<TraceEvent> ring_;
  std::size_t next_ = 0;
  std::uint64_t recorded_ = 0;
  std::vector<std::string> labels_, types_;
  std::unordered_map<std::string, std::uint32_t> label_ids_, type_ids_;
  std::ofstream file_;
  std::string file_path_;
};

const char* trace_kind_name(TraceEvent::Kind kind);

}  // namespace treadle
