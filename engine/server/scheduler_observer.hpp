#pragma once
// Who may watch the scheduler decide (docs/tracing.md). The scheduler stays pure logic: it
// calls these hooks, if anyone listens, with small interned codes and never builds a string
// per task. The server's TraceRecorder is one observer; unit tests can be others.
#include <cstdint>

#include "../common/ids.hpp"

namespace treadle {

// Where a task went, and why there.
enum class Placement : std::uint8_t {
  chained,        // assigned behind its inputs, which are being computed on that same worker
  locality,       // the worker holding most bytes of its inputs
  with_consumer,  // a source task placed where its consumer's other inputs are
  least_loaded,   // the least busy of several workers that fit
  only_fit,       // the only worker that fits (enough cpus, offers its type)
  only_worker,    // the only worker connected
  stolen,         // moved from a busy worker's queue to an idle one, where it starts sooner (stealing.cpp)
};
inline constexpr int placement_count = 7;

// Why the task was placed (again).
enum class PlacementCause : std::uint8_t {
  first,        // its first placement
  worker_lost,  // it was assigned to (or chained behind work on) a worker that was lost
  recomputed,   // its result was lost with a worker, or released, and is needed again
};

struct Decision {
  TaskId task = 0;
  WorkerId worker = no_worker;
  Placement reason = Placement::least_loaded;
  PlacementCause cause = PlacementCause::first;
  bool queued = false;            // no worker had cpus free: it waits in the worker's queue
  std::int64_t at_us = 0;         // the scheduler's clock (Scheduler::set_clock)
  std::int64_t ready_us = -1;     // when it became ready; -1 for a chained task (never queued)
  std::uint64_t local_bytes = 0;  // bytes of its finished inputs already on that worker
  std::uint64_t input_bytes = 0;  // bytes of its finished inputs in all
  WorkerId from = no_worker;      // stolen: the worker whose queue gave it back
  WorkerId lost_worker = no_worker;  // cause worker_lost: the worker whose loss it follows (if known)
};

const char* placement_name(Placement p);   // "chained", "locality", ...
const char* cause_name(PlacementCause c);  // "first", "worker_lost", "recomputed"

class SchedulerObserver {
 public:
  virtual ~SchedulerObserver() = default;
  // A task was queued for placement at `at_us` (all its inputs finished).
  virtual void on_ready(TaskId task, std::int64_t at_us) {}
  // A task was assigned to a worker.
  virtual void on_assigned(const Decision& decision) {}
  // Its worker said a task assigned there started running, at `at_us` (when the server heard).
  virtual void on_started(TaskId task, WorkerId worker, std::int64_t at_us) {}
  // A task sent to `worker` (`running` there, else queued) was cancelled before it finished.
  virtual void on_cancelled(TaskId task, WorkerId worker, bool running, std::int64_t at_us) {}
};

}  // namespace treadle
