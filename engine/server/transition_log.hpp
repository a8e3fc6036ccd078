#pragma once
// A bounded record of recent state transitions (Dask's transition log): answers
// "why is this task here?" without keeping a history per task.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "../common/ids.hpp"
#include "scheduler_observer.hpp"
#include "task_state.hpp"

namespace treadle {

// TransitionEntry::placement of a transition that placed nothing.
inline constexpr std::uint8_t no_placement = 0xff;

struct TransitionEntry {
  TaskId task;
  TaskState from;
  TaskState to;
  std::uint8_t placement;  // a Placement when this transition placed the task, else no_placement
  WorkerId worker;         // the worker involved (assigned to, finished on, lost with...), or no_worker
  const char* reason;      // a string literal: logging costs no allocation
  std::int64_t time_us;    // the scheduler's clock (Scheduler::set_clock)
};
// The worker and placement fill what was padding: a record costs no more than it did.
static_assert(sizeof(TransitionEntry) <= 32, "keep the transition ring compact");

class TransitionLog {
 public:
  explicit TransitionLog(std::size_t capacity = 100000) : capacity_(capacity) { ring_.reserve(capacity); }
  // Several per task: the ring wraps with a compare, not a 64-bit modulo (bench/README.md).
  void record(const TransitionEntry& entry) {
    if (ring_.size() < capacity_) {
      ring_.push_back(entry);
    } else if (capacity_ > 0) {
      ring_[next_] = entry;
      if (++next_ == capacity_) next_ = 0;
    }
  }
  std::vector<TransitionEntry> story(TaskId task) const;  // oldest first
  // The stories of several tasks in one pass over the ring (oldest first each).
  std::unordered_map<TaskId, std::vector<TransitionEntry>> stories(const std::vector<TaskId>& tasks) const;
  std::size_t size() const { return ring_.size(); }
  std::size_t capacity() const { return capacity_; }
  // Once full, each record overwrites the oldest: a task's first steps may be gone.
  bool rolled_over() const { return ring_.size() == capacity_ && capacity_ > 0; }
  // The time of the oldest entry kept (0 when empty).
  std::int64_t oldest_time_us() const { return ring_.empty() ? 0 : ring_[next_ % ring_.size()].time_us; }

 private:
  std::size_t capacity_;
  std::size_t next_ = 0;
  std::vector<TransitionEntry> ring_;
};

}  // namespace treadle
