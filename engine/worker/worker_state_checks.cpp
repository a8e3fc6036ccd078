// WorkerState::inconsistency(): the books of the worker's task state, checked by the unit
// tests after every event (Dask's worker keeps a validate_state() for the same reason).
#include <algorithm>
#include <unordered_set>

#include "worker_state.hpp"

namespace treadle {

std::string WorkerState::inconsistency() const {
  std::unordered_map<TaskId, std::uint32_t> waits;  // task -> objects it is listed as waiting for
  for (auto& [object, waiters] : waiters_) {
    const std::string what = "object " + std::to_string(object);
    if (waiters.empty()) return what + " has an empty list of waiting tasks";
    if (store_.contains(object)) return what + " is here, yet tasks wait for it";
    for (TaskId id : waiters) {
      auto t = tasks_.find(id);
      if (t == tasks_.end()) return what + " is awaited by task " + std::to_string(id) + ", which is not here";
      if (t->second.state != WorkerTaskState::waiting)
        return what + " is awaited by task " + std::to_string(id) + ", which is " + state_name(t->second.state);
      ++waits[id];
    }
  }
  for (auto& [object, fetch] : fetches_)
    if (!waiters_.count(object) && !wanted_.count(object)) return "object " + std::to_string(object) + " is fetched for nobody";

  const std::unordered_set<TaskId> queued(ready_.begin(), ready_.end());
  std::int64_t held = 0, on_threads = 0;
  for (auto& [id, t] : tasks_) {
    const std::string who = "task " + std::to_string(id) + " (" + state_name(t.state) + ")";
    const std::uint32_t listed = waits.count(id) ? waits.at(id) : 0;
    if (t.missing != listed)
      return who + " counts " + std::to_string(t.missing) + " missing inputs but waits in " + std::to_string(listed) + " lists";
    if ((t.state == WorkerTaskState::waiting) != (t.missing > 0)) return who + " has " + std::to_string(t.missing) + " missing inputs";
    if (t.state == WorkerTaskState::ready && !queued.count(id)) return who + " is not in the ready queue";
    if (t.holds_cpus()) held += t.cpus;
    if (t.state == WorkerTaskState::on_thread) on_threads += t.cpus;
  }
  for (auto& [id, a] : abandoned_) {
    if (a.cpus.empty()) return "task " + std::to_string(id) + " has an abandoned entry without runs";
    for (std::uint32_t cpus : a.cpus) {
      held += cpus;
      on_threads += cpus;
    }
  }
  if (held != cpus_held_)
    return "cpus held are counted " + std::to_string(cpus_held_) + ", really " + std::to_string(held);
  if (cpus_held_ < 0) return "cpus held are negative: " + std::to_string(cpus_held_);
  // Python tasks may oversubscribe (one waits in each executor's pipe); thread tasks never do.
  if (on_threads > cpus_)
    return "tasks on threads hold " + std::to_string(on_threads) + " cpus of " + std::to_string(cpus_);
  return "";
}

}  // namespace treadle
