// Freeing plans nobody can need again, so a long session (a notebook run for days) does not
// grow: a plan goes when every task in it is released or failed and unheld, and every task
// consuming one of its tasks is in a plan already gone. Until then its released tasks are
// kept: recomputing lost data may walk back through them (recovery.cpp).
#include <algorithm>

#include "scheduler.hpp"

namespace treadle {

std::size_t Scheduler::live_plans() const {
  std::size_t n = 0;
  for (auto& p : tasks_.plans()) n += p != nullptr;
  return n;
}

std::size_t Scheduler::collect_garbage() {
  if (!garbage_) return 0;
  garbage_ = false;
  std::size_t freed = 0;
  auto& plans = tasks_.plans();
  // Newest first: consumers are in the same or a later plan, except tasks rewritten by a
  // dynamic expansion or a redirect, whose new inputs are later; freeing those plans can free
  // more, hence the passes.
  for (bool dropped = true; dropped;) {
    dropped = false;
    for (std::size_t index = plans.size(); index-- > 0;) {
      Plan* plan = plans[index].get();
      if (!plan || plan->unsettled > 0) continue;
      bool needed = false;
      for (std::uint32_t local = 0; local < plan->size && !needed; ++local) {
        const TaskRecord& t = plan->records[local];
        if (t.holds > 0 || t.kept) needed = true;
        if (!t.has_extra_consumers) continue;
        auto it = extra_consumers_.find(plan->base + local);
        if (it == extra_consumers_.end()) continue;
        for (TaskId c : it->second)
          if (tasks_.live(c)) needed = true;
      }
      if (needed) continue;
      // Forget it everywhere, including in the consumer lists of the inputs that stay: one
      // pass over each such list, not one per consumer (a function's list holds every call of
      // every live plan: 10,000 calls of 10,000 calls each were seconds of the server's time).
      const TaskId first = plan->base, last = plan->base + plan->size;
      std::vector<TaskId> outside;  // inputs from other plans
      for (std::uint32_t local = 0; local < plan->size; ++local) {
        TaskId id = first + local;
        const TaskRecord& t = plan->records[local];
        for (ObjectId object : inputs_of(id)) {
          const TaskId in = task_of(object);
          if (in < first || in >= last) outside.push_back(in);
        }
        extra_consumers_.erase(id);
        failures_.erase(id);
        task_info_.erase(id);
        redirect_target_.erase(id);
        checkpoint_writes_.erase(id);
        if (t.multi_output) outputs_.erase(id);
        if (t.inputs_overridden) {
          input_override_.erase(id);
          config_override_.erase(id);
        }
      }
      std::sort(outside.begin(), outside.end());
      outside.erase(std::unique(outside.begin(), outside.end()), outside.end());
      for (TaskId in : outside) {
        auto consumers = extra_consumers_.find(in);
        if (consumers == extra_consumers_.end()) continue;
        auto& v = consumers->second;
        v.erase(std::remove_if(v.begin(), v.end(), [&](TaskId c) { return c >= first && c < last; }), v.end());
        if (v.empty()) {
          extra_consumers_.erase(consumers);
          if (tasks_.live(in)) tasks_[in].has_extra_consumers = false;
        }
      }
      freed += plan->size;
      tasks_.drop(static_cast<std::uint32_t>(index));
      dropped = true;
    }
  }
  // A big plan's ready queue grew to its width; once drained, its buffer goes too.
  if (freed > 0 && light_ready_.empty()) light_ready_.shrink();
  if (freed > 0 && cpu_ready_.empty()) cpu_ready_.shrink();
  return freed;
}

}  // namespace treadle
