#include "transition_log.hpp"

namespace treadle {

std::vector<TransitionEntry> TransitionLog::story(TaskId task) const {
  std::vector<TransitionEntry> out;
  for (std::size_t i = 0; i < ring_.size(); ++i) {
    const auto& entry = ring_[(next_ + i) % ring_.size()];
    if (entry.task == task) out.push_back(entry);
  }
  return out;
}

std::unordered_map<TaskId, std::vector<TransitionEntry>> TransitionLog::stories(const std::vector<TaskId>& tasks) const {
  std::unordered_map<TaskId, std::vector<TransitionEntry>> out;
  for (TaskId t : tasks) out.emplace(t, std::vector<TransitionEntry>());
  for (std::size_t i = 0; i < ring_.size(); ++i) {
    const auto& entry = ring_[(next_ + i) % ring_.size()];
    auto it = out.find(entry.task);
    if (it != out.end()) it->second.push_back(entry);
  }
  return out;
}

}  // namespace treadle
