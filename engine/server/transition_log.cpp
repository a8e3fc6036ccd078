#include "transition_log.hpp"

namespace treadle {

std::int64_t now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

void TransitionLog::record(TaskId task, TaskState from, TaskState to, const char* reason) {
  TransitionEntry entry{task, from, to, reason, now_us()};
  if (ring_.size() < capacity_) {
    ring_.push_back(entry);
  } else {
    ring_[next_] = entry;
    next_ = (next_ + 1) % capacity_;
  }
}

std::vector<TransitionEntry> TransitionLog::story(TaskId task) const {
  std::vector<TransitionEntry> out;
  for (std::size_t i = 0; i < ring_.size(); ++i) {
    const auto& entry = ring_[(next_ + i) % ring_.size()];
    if (entry.task == task) out.push_back(entry);
  }
  return out;
}

}  // namespace treadle
