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
//
// Split in two so an assignment touches no line of its own for the ring's bookkeeping: the
// ring's position and count (`QueuedTasks`, 3 bytes) live in the worker's first cache line
// (WorkerInfo::recent_cpu_tasks), which an assignment reads anyway, and its entries in one array
// for all workers (`QueuedTaskRings`), found by worker id without a load. As a separate
// 16-byte header (a pointer, a count) the ring missed the last-level cache at ~0.5 of the
// assignments at 10,000 simulated workers (bench/README.md, "The scheduler simulator").
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../common/ids.hpp"

namespace treadle {

// How many of a worker's newest assignments stealing reads at most (stealing.cpp scans no
// further); the ring stores that many, whatever more it is asked to keep.
constexpr std::size_t queued_tasks_scanned = 64;

// Every worker's ring entries, `queued_tasks_scanned` per worker id.
class QueuedTaskRings {
 public:
  // Room for the rings of workers 0 .. workers - 1.
  void reserve(std::size_t workers) {
    if (ids_.size() < workers * queued_tasks_scanned) ids_.resize(workers * queued_tasks_scanned);
  }
  TaskId* of(WorkerId worker) { return ids_.data() + std::size_t{worker} * queued_tasks_scanned; }
  const TaskId* of(WorkerId worker) const { return ids_.data() + std::size_t{worker} * queued_tasks_scanned; }
  std::size_t workers() const { return ids_.size() / queued_tasks_scanned; }

 private:
  std::vector<TaskId> ids_;
};

// One worker's ring: where its next entry goes, how many it holds, and how many it keeps.
class QueuedTasks {
 public:
  // Records an assignment in the worker's entries; the ring keeps at least `keep` of the latest
  // (the newest `queued_tasks_scanned` of them readable).
  void push(TaskId* ring, TaskId id, std::size_t keep) {
    if (capacity() < keep) grow(keep);
    ring[head_] = id;
    head_ = static_cast<std::uint8_t>((head_ + 1) & (queued_tasks_scanned - 1));
    if (count_ < readable()) ++count_;
  }
  // How many assignments it holds: newest(0) .. newest(size() - 1), newest first. Any of them
  // may have started, ended or moved since: the reader checks.
  std::size_t size() const { return count_; }
  TaskId newest(const TaskId* ring, std::size_t k) const {
    return ring[(head_ + queued_tasks_scanned - 1 - k) & (queued_tasks_scanned - 1)];
  }

 private:
  static_assert((queued_tasks_scanned & (queued_tasks_scanned - 1)) == 0 && queued_tasks_scanned <= 128,
                "a power of two that a byte counts");
  // How many it keeps: at least 8, a power of two, never shrinking (0 before the first push).
  std::size_t capacity() const { return log2_capacity_ ? std::size_t{1} << log2_capacity_ : 0; }
  std::size_t readable() const { return capacity() < queued_tasks_scanned ? capacity() : queued_tasks_scanned; }
  void grow(std::size_t keep) {
    unsigned log2 = 3;
    while ((std::size_t{1} << log2) < keep) ++log2;
    log2_capacity_ = static_cast<std::uint8_t>(log2);
  }
  std::uint8_t head_ = 0;           // the next entry's index among the worker's entries
  std::uint8_t count_ = 0;          // entries held, up to readable()
  std::uint8_t log2_capacity_ = 0;  // 0: nothing pushed yet (then at least 3)
};
static_assert(sizeof(QueuedTasks) == 3, "fits in the worker's first cache line");

}  // namespace treadle
