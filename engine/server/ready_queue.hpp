#pragma once
// Ready tasks waiting for placement, highest priority first and, among equals, lowest id first.
// Each entry is one 8-byte key, not a (priority, id) pair of 16: a plan of a million sources
// has all of them here at once (the server's peak memory at that scale).
//
// Two parts: a sorted run and a heap. Keys that come in order (a plan's sources, made ready at
// submit in id order with equal priorities) are appended to the run and taken from its front,
// one sequential read each; the others go to the heap. A binary heap of a million keys cost
// ~300 instructions and ~0.8 cache misses per pop, and each pop walked a root-to-leaf path of
// lines spread over 8 MB that evicted the records of the tasks in flight (bench/README.md,
// "The scheduler simulator"). Keys come out in the same order either way (they are totally
// ordered), so placement's decisions do not change.
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

  void push(TaskId id, std::int32_t priority) { push_key(key(id, priority)); }
  void push_key(std::uint64_t key) {
    if (run_head_ < run_.size() && key < run_.back()) {
      heap_.push(key);
      return;
    }
    // Before the run's buffer grows, the taken half goes: a run fed as fast as it is taken
    // stays bounded, and one only taken from (a plan's sources) is never moved.
    if (run_.size() == run_.capacity() && run_head_ * 2 >= run_.size()) {
      run_.erase(run_.begin(), run_.begin() + static_cast<std::ptrdiff_t>(run_head_));
      run_head_ = 0;
    }
    run_.push_back(key);
  }
  std::uint64_t top_key() const { return from_run() ? run_[run_head_] : heap_.top(); }
  void pop() {
    if (!from_run()) {
      heap_.pop();
      return;
    }
    if (++run_head_ == run_.size()) {
      run_.clear();
      run_head_ = 0;
    }
  }
  bool empty() const { return run_head_ == run_.size() && heap_.empty(); }
  std::size_t size() const { return run_.size() - run_head_ + heap_.size(); }
  // Gives the buffers back (they grew to the widest plan's ready set); only when empty.
  void shrink() {
    heap_ = decltype(heap_)();
    run_ = std::vector<std::uint64_t>();
    run_head_ = 0;
  }

 private:
  // The next key is the run's front (call only when not empty).
  bool from_run() const { return run_head_ < run_.size() && (heap_.empty() || run_[run_head_] <= heap_.top()); }

  std::vector<std::uint64_t> run_;  // sorted; keys before run_head_ were taken
  std::size_t run_head_ = 0;
  std::priority_queue<std::uint64_t, std::vector<std::uint64_t>, std::greater<std::uint64_t>> heap_;
};
}  // namespace treadle
