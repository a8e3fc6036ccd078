#pragma once
// A bounded record of recent state transitions (Dask's transition log): answers
// "why is this task here?" without keeping a history per task.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "../common/ids.hpp"
#include "task_state.hpp"

namespace treadle {

struct TransitionEntry {
  TaskId task;
  TaskState from;
  TaskState to;
  const char* reason;  // a string literal: logging costs no allocation
  std::int64_t time_us;
};

class TransitionLog {
 public:
  explicit TransitionLog(std::size_t capacity = 100000) : capacity_(capacity) { ring_.reserve(capacity); }
  void record(TaskId task, TaskState from, TaskState to, const char* reason);
  std::vector<TransitionEntry> story(TaskId task) const;  // oldest first
  std::size_t size() const { return ring_.size(); }

 private:
  std::size_t capacity_;
  std::size_t next_ = 0;
  std::vector<TransitionEntry> ring_;
};

std::int64_t now_us();

}  // namespace treadle
