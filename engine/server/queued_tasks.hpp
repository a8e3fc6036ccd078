#pragma once
// A worker's recent cpu task assignments, newest last: work stealing takes the newest of those
// still queued there (stealing.cpp), checking each one's state as it scans.
//
// A ring of the last assignments, never touched when a task starts, ends or moves: at 10,000
// simulated workers, removing a task from its worker's list when it started missed the cache
// about twice per task (the list's header and its front, among 80,000 tasks in flight), and
// the sweep before that read every task's record once more (bench/README.md, "The scheduler
// simulator"). The ring keeps at least twice the cpus' worth a worker may have assigned
// (its cpus and its queue), so a task still queued falls out of it only behind newer ones; a
// task gone from the ring is only never stolen, which costs nothing but a missed move.
#include <cstdint>
#include <vector>

#include "../common/ids.hpp"

namespace treadle {

class QueuedTasks {
 public:
  // Records an assignment; the ring keeps at least `keep` of the latest.
  void push(TaskId id, std::size_t keep) {
    if (ids_.size() < keep) grow(keep);
    ids_[pushed_ & (ids_.size() - 1)] = id;
    ++pushed_;
  }
  // How many assignments it holds: newest(0) .. newest(size() - 1), newest first. Any of them
  // may have started, ended or moved since: the reader checks.
  std::size_t size() const { return pushed_ < ids_.size() ? pushed_ : ids_.size(); }
  TaskId newest(std::size_t k) const { return ids_[(pushed_ - 1 - k) & (ids_.size() - 1)]; }

 private:
  void grow(std::size_t keep) {
    std::size_t capacity = 8;
    while (capacity < keep) capacity *= 2;
    std::vector<TaskId> ids(capacity);
    const std::size_t n = size();
    for (std::size_t k = 0; k < n; ++k) ids[(n - 1 - k)] = newest(k);  // oldest first, from 0
    ids_ = std::move(ids);
    pushed_ = n;
  }
  std::vector<TaskId> ids_;  // a power of two long
  std::uint64_t pushed_ = 0;
};

}  // namespace treadle
