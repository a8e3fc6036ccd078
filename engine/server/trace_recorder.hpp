#pragma once
// What ran where and when, for traces and reports (docs/tracing.md).
//
// Always on, in bounded memory: a ring of the most recent events. When a client asks for a
// complete record (set_trace), every event is also appended to a file as a JSON line.
//
// Events are small fixed records (no strings: labels and types are interned, decision reasons
// are codes), so recording one costs a copy into the ring; JSON is made only when asked.
#include <cstdint>
#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "../common/ids.hpp"
#include "../common/protocol.hpp"
#include "scheduler_observer.hpp"

namespace treadle {

class Scheduler;

struct TraceEvent {
  enum class Kind : std::uint8_t {
    task, transfer, worker_joined, worker_lost, decision, sample,
    worker_retiring,  // asked to leave: hands its objects off, takes no new tasks
    worker_retired,   // left on purpose, losing nothing
    cancelled,        // a task sent to the worker was cancelled before it finished
  };
  static constexpr int kind_count = 9;
  Kind kind = Kind::task;
  std::uint8_t reason = 0;   // decision: Placement
  std::uint8_t cause = 0;    // decision: PlacementCause; task: 1 if it failed (its error: `total`)
  std::uint8_t queued = 0;   // decision: no worker had cpus free; cancelled: it had not started
  std::uint32_t worker = 0;  // where it ran / who received / chosen / sampled
  std::uint32_t other = 0;   // task: lane (0 loop, 1 thread, 2+i executor i); transfer: the sender;
                             // sample: cpu use in tenths of a percent of the worker's cpus
  std::uint32_t label = 0;   // index into labels (task, cancelled; worker events: the worker's name;
                             // decision of cause worker_lost: the lost worker's name, "" unknown)
  std::uint32_t type = 0;    // index into types (task, cancelled); worker_lost: index into labels (why)
  std::uint32_t outputs = 1; // task: how many outputs it made (Rain's tasks: zero or several)
  TaskId task = 0;           // the task, or the object moved; sample: bytes spilled to disk
  std::int64_t start_us = 0, end_us = 0;  // decision, sample, worker events: both the moment
  std::int64_t ready_us = -1;             // task, decision: when it became ready; -1: chained;
                                          // cancelled: when it started running (-1: unknown, queued)
  std::uint64_t size = 0;    // task: result; transfer: bytes; decision: input bytes on the
                             // chosen worker; sample: RSS of the worker and its executors
  std::uint64_t total = 0;   // decision: input bytes in all; sample: bytes in its data store;
                             // failed task: index into errors (its error's headline)
};

// A worker's resource sample, as its heartbeat carries it.
struct WorkerSample {
  std::int64_t at_us = 0;      // the worker's wall clock
  double cpu_percent = 0;      // of its cpus, worker + executors (+ finished children)
  std::uint64_t rss = 0;       // bytes, worker + executors
  std::uint64_t store = 0;     // bytes of objects in its store (in memory)
  std::uint64_t spilled = 0;   // bytes of objects spilled to its work directory
  std::uint64_t objects = 0;   // data objects it holds (in memory or spilled)
  std::uint64_t fetched_bytes = 0;  // so far: object bytes it received from peers over the network
  std::uint64_t handed_bytes = 0;   // so far: object bytes it took from peers on its host by their files
  std::uint64_t receiving = 0;      // bytes of objects arriving in pieces, not yet whole
  std::uint64_t receive_pool = 0;   // bytes of freed received objects' memory kept for the next ones
  std::uint64_t reused_bytes = 0;   // so far: bytes received into that kept memory
};

class TraceRecorder : public SchedulerObserver {
 public:
  // The whole ring is reserved at once: address space only, its pages are first touched as
  // events fill them. Grown by doubling instead, each step copied the events into fresh pages,
  // touching about twice the pages it kept (a fresh page costs ~17 us on a VM: bench/README.md).
  explicit TraceRecorder(std::size_t capacity = 200000) : capacity_(capacity) { ring_.reserve(capacity_); }
  std::uint32_t intern_label(const std::string& label) { return intern(label, labels_, label_ids_); }
  std::uint32_t intern_type(const std::string& type) { return intern(type, types_, type_ids_); }
  void record(const TraceEvent& event);

  // Helpers for each kind.
  void record_task(const Scheduler& scheduler, WorkerId worker, TaskId task, std::uint32_t lane,
                   std::int64_t start_us, std::int64_t end_us, std::uint64_t size);
  // A task that failed after it ran there: its bar, marked failed, with its error's headline.
  void record_failed_task(const Scheduler& scheduler, WorkerId worker, TaskId task, std::uint32_t lane,
                          std::int64_t start_us, std::int64_t end_us, const std::string& error);
  void record_transfer(WorkerId to, WorkerId from, TaskId object, std::int64_t start_us, std::int64_t end_us,
                       std::uint64_t size);
  // `reason`: why it was lost (worker_lost only: "no heartbeat", "said goodbye"...).
  void record_worker(TraceEvent::Kind kind, WorkerId worker, const std::string& name, std::int64_t at_us,
                     const std::string& reason = std::string());
  void record_sample(WorkerId worker, const WorkerSample& sample);

  // SchedulerObserver: every placement becomes a decision event.
  void on_assigned(const Decision& decision) override;
  void on_started(TaskId task, WorkerId worker, std::int64_t at_us) override;
  void on_cancelled(TaskId task, WorkerId worker, bool running, std::int64_t at_us) override;
  // Observes `scheduler` (its placements, its cancels); a cancel then names its task's label
  // and type, read from the scheduler as the cancel happens.
  void observe(Scheduler& scheduler);

  // Records from now on also go to `path` (JSON lines); empty: stop. Throws on a bad path.
  void write_to(const std::string& path);
  const std::string& file() const { return file_path_; }
  void flush() {
    if (file_.is_open()) file_.flush();
  }
  // The most recent `limit` events (of the given kinds; none given: all), oldest first, as
  // {events: [{kind, ...}...], recorded, file}.
  json recent(std::size_t limit, const std::vector<std::string>& kinds = {}) const;
  std::uint64_t recorded() const { return recorded_; }
  std::size_t size() const { return ring_.size(); }
  std::size_t capacity() const { return capacity_; }
  json as_json(const TraceEvent& e) const;

 private:
  // A task event's common part: where, when, its label and type.
  TraceEvent task_event(const Scheduler& scheduler, WorkerId worker, TaskId task, std::uint32_t lane,
                        std::int64_t start_us, std::int64_t end_us);
  static std::uint32_t intern(const std::string& s, std::vector<std::string>& table,
                              std::unordered_map<std::string, std::uint32_t>& ids);
  static constexpr std::size_t max_errors = 10000;
  std::size_t capacity_;
  const Scheduler* scheduler_ = nullptr;  // the one observed (observe), for cancels' labels
  std::vector<TraceEvent> ring_;
  // Tasks running now -> when they started: a task cancelled while running is recorded with
  // the time it ran (its worker reports nothing of it). Ended tasks leave; bounded (a lost
  // worker's running tasks never end there).
  std::unordered_map<TaskId, std::int64_t> running_since_;
  static constexpr std::size_t max_running = std::size_t(1) << 22;
  std::size_t next_ = 0;
  std::uint64_t recorded_ = 0;
  std::vector<std::string> labels_, types_, errors_;
  std::unordered_map<std::string, std::uint32_t> label_ids_, type_ids_, error_ids_;
  std::ofstream file_;
  std::string file_path_;
};

const char* trace_kind_name(TraceEvent::Kind kind);
// "data locality (1200 of 1500 input bytes there)", "chained behind its inputs on worker 2"...
// `lost_worker`: the name of the worker whose loss a placement follows (cause worker_lost).
std::string decision_text(const TraceEvent& decision, const std::string& lost_worker = std::string());
// The line of a failure's message a reader wants: a Python traceback's last line (the exception),
// else its first line, once (not piled up by nested tasks that raised it again); at most 200 bytes.
std::string failure_headline(const std::string& message);

}  // namespace treadle
