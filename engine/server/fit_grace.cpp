// A cluster that shrank: a task only a worker that left could run waits for one that fits.
//
// Losing the only worker big enough for a task (or the only one offering its type) must not
// fail the task while a replacement is on its way: a restarted worker, an --adapt job, a healed
// partition. Such a task waits, out of the ready queue, for the grace period after that worker
// left (worker_grace_us, 30 s), and fails with the usual message if none that fits joined by
// then. A task that no worker that left lately could run either (4 cpus on a cluster of 1-cpu
// workers) fails at once, as before: waiting would only delay telling the user a mistake.
#include <algorithm>

#include "scheduler.hpp"

namespace treadle {

std::int64_t Scheduler::fit_deadline_us(const TaskRecord& t) const {
  std::int64_t deadline = -1;
  for (auto [id, left_us] : left_) {
    const WorkerInfo& w = *workers_[id];
    if (left_us + worker_grace_us_ > now_us_ && t.type < w.offers_type.size() && w.offers_type[t.type] &&
        w.cpus >= t.cpus)
      deadline = std::max(deadline, left_us + worker_grace_us_);
  }
  return deadline;
}

bool Scheduler::wait_for_fit(TaskId id, const TaskRecord& t) {
  const std::int64_t deadline = fit_deadline_us(t);
  if (deadline < 0) return false;
  unfit_.push_back(id);
  unfit_due_us_ = std::min(unfit_due_us_, deadline);
  return true;
}

void Scheduler::requeue_unfit() {
  left_.erase(std::remove_if(left_.begin(), left_.end(),
                             [&](const auto& left) { return left.second + worker_grace_us_ <= now_us_; }),
              left_.end());
  std::vector<TaskId> waiting;
  waiting.swap(unfit_);
  unfit_due_us_ = std::numeric_limits<std::int64_t>::max();
  for (TaskId id : waiting)
    if (tasks_.live(id) && tasks_[id].state == TaskState::ready) push_ready(id);
}

}  // namespace treadle
