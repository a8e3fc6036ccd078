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
#include <memory>

#include "../common/ids.hpp"

namespace treadle {

// 16 bytes, so four workers' rings share a cache line: the scheduler keeps one per worker in an
// array, and at 10,000 simulated workers reading a ring's header at each assignment missed the
// cache about half the time when it took 32 bytes (a vector and a 64-bit count).
class QueuedTasks {
 public:
  QueuedTasks() : pushed_(0), log2_capacity_(0) {}
  QueuedTasks(QueuedTasks&&) = default;
  QueuedTasks& operator=(QueuedTasks&&) = default;

  // Records an assignment; the ring keeps at least `keep` of the latest.
  void push(TaskId id, std::size_t keep) {
    if (capacity() < keep) grow(keep);
    ids_[pushed_ & (capacity() - 1)] = id;
    ++pushed_;
  }
  // How many assignments it holds: newest(0) .. newest(size() - 1), newest first. Any of them
  // may have started, ended or moved since: the reader checks.
  std::size_t size() const { return pushed_ < capacity() ? std::size_t(pushed_) : capacity(); }
  TaskId newest(std::size_t k) const { return ids_[(pushed_ - 1 - k) & (capacity() - 1)]; }

 private:
  std::size_t capacity() const { return ids_ ? std::size_t{1} << log2_capacity_ : 0; }
  void grow(std::size_t keep) {
    unsigned log2 = 3;  // at least 8
    while ((std::size_t{1} << log2) < keep) ++log2;
    auto ids = std::make_unique<TaskId[]>(std::size_t{1} << log2);
    const std::size_t n = size();
    for (std::size_t k = 0; k < n; ++k) ids[(n - 1 - k)] = newest(k);  // oldest first, from 0
    ids_ = std::move(ids);
    pushed_ = n;
    log2_capacity_ = log2;
  }
  std::unique_ptr<TaskId[]> ids_;  // 1 << log2_capacity_ long
  // Assignments ever pushed (2^58 of them outlast any worker), and the capacity's log2.
  std::uint64_t pushed_ : 58;
  std::uint64_t log2_capacity_ : 6;
};
static_assert(sizeof(QueuedTasks) == 16, "four rings to a cache line");

}  // namespace treadle
