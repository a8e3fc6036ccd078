#pragma once
// Ready tasks waiting for placement, highest priority first and, among equals, lowest id first.
// Each entry is one 8-byte key, not a (priority, id) pair of 16: a plan of a million sources
// has all of them here at once (the server's peak memory at that scale).
#include <algorithm>
#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

#include "../common/ids.hpp"

namespace treadle {

class ReadyQueue {
 public:
  // Priorities at or above this rank together (a chain of 16M tasks): ties go by id.
  static constexpr std::int32_t max_ranked_priority = (1 << (64 - output_shift)) - 1;

  // The key orders by priority (descending) in its top 24 bits, then by id in the low 40 (a
  // task id fits in 40 bits: ObjectId's task part). Smaller keys come out first.
  static std::uint64_t key(TaskId id, std::int32_t priority) {
    const std::int32_t ranked = std::clamp(priority, 0, max_ranked_priority);
    return static_cast<std::uint64_t>(max_ranked_priority - ranked) << output_shift | (id & task_mask);
  }
  static TaskId id_of(std::uint64_t key) { return key & task_mask; }

  void push(TaskId id, std::int32_t priority) { heap_.push(key(id, priority)); }
  void push_key(std::uint64_t key) { heap_.push(key); }
  std::uint64_t top_key() const { return heap_.top(); }
  void pop() { heap_.pop(); }
  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  // Gives the buffer back (it grew to the widest plan's ready set).
  void shrink() { heap_ = decltype(heap_)(); }

 private:
  std::priority_queue<std::uint64_t, std::vector<std::uint64_t>, std::greater<std::uint64_t>> heap_;
};
}  // namespace treadle
