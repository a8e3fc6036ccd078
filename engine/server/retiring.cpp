// Retiring: a worker leaving on purpose (a smaller cluster, an idle batch job given back).
//
// Unlike a lost worker, nothing it made is recomputed: from the moment it retires, no task is
// placed there and its queued tasks go elsewhere; the tasks running there finish; every object
// still needed (held by a client or by an unfinished consumer) that only it holds is copied to
// another worker, which fetches it like an input. When nothing runs there and every copy has
// arrived, the server tells it to stop, and its leaving loses nothing.
#include <algorithm>

#include "../common/log.hpp"
#include "scheduler.hpp"

namespace treadle {

bool Scheduler::retire_worker(WorkerId worker) {
  if (worker >= workers_.size() || !workers_[worker]->alive) return false;
  WorkerInfo& w = *workers_[worker];
  if (w.retiring) return true;
  w.retiring = true;
  unlist_worker(w);  // placement no longer chooses it
  Retiring& r = retiring_[worker];
  r.since_us = now_us_;
  log::info("worker ", w.name, " is retiring");

  // One pass over the table, as for a lost worker: retiring is rare.
  std::vector<TaskId> queued, held;
  for (auto& plan : tasks_.plans()) {
    if (!plan) continue;
    for (std::uint32_t local = 0; local < plan->size; ++local) {
      const TaskRecord& t = plan->records[local];
      const TaskId id = plan->base + local;
      if (t.state == TaskState::assigned && t.worker == worker) queued.push_back(id);
      else if (t.state == TaskState::finished) held.push_back(id);
    }
  }
  // Queued tasks (not started there) go back to be placed elsewhere.
  std::vector<TaskId> sent_back;
  for (TaskId id : queued) {
    if (tasks_[id].state != TaskState::assigned) continue;
    transition(id, TaskState::waiting, "its worker is retiring", worker);
    sent_back.push_back(id);
  }
  for (TaskId id : sent_back) make_ready_or_wait(id, "placed again: its worker is retiring");
  for (TaskId id : held) hand_off_outputs(id, worker);
  return true;
}

void Scheduler::hand_off_outputs(TaskId id, WorkerId from) {
  auto it = retiring_.find(from);
  if (it == retiring_.end() || !exists(id) || tasks_[id].state != TaskState::finished) return;
  const std::uint32_t n = output_count(id);
  for (std::uint32_t k = 0; k < n; ++k) hand_off(from, object_id(id, k), it->second);
}

bool Scheduler::handoff_needed(ObjectId object, WorkerId from) const {
  if (!object_exists(object) || tasks_[task_of(object)].state != TaskState::finished) return false;
  if (object_holds(object) == 0) return false;
  const auto& where = locations(object);
  return std::find(where.begin(), where.end(), from) != where.end() &&
         std::none_of(where.begin(), where.end(), [&](WorkerId w) { return w != from && workers_[w]->alive; });
}

// The live, not retiring worker that has received the fewest bytes from retiring workers, so the
// copies spread; no_worker if there is none (the objects are then lost when it stops).
WorkerId Scheduler::handoff_target(WorkerId from) const {
  WorkerId best = no_worker;
  for (auto& w : workers_) {
    if (w->id == from || !w->alive || w->retiring) continue;
    if (best == no_worker || w->handed_off_bytes < workers_[best]->handed_off_bytes) best = w->id;
  }
  return best;
}

void Scheduler::hand_off(WorkerId from, ObjectId object, Retiring& r) {
  if (!handoff_needed(object, from)) return;
  WorkerId to = handoff_target(from);
  if (to == no_worker) return;
  workers_[to]->handed_off_bytes += object_size(object) + 1;
  r.pending.push_back({object, to});
  actions_.replicate(to, object, from);
}

bool Scheduler::retire_done(WorkerId worker, std::int64_t handoff_timeout_us) {
  auto it = retiring_.find(worker);
  if (it == retiring_.end()) return worker >= workers_.size() || !workers_[worker]->alive;
  const WorkerInfo& w = *workers_[worker];
  if (!w.alive) {
    retiring_.erase(it);
    return true;
  }
  if (w.running_tasks || w.queued_tasks) return false;
  Retiring& r = it->second;
  std::vector<Handoff> pending;
  pending.swap(r.pending);
  for (const Handoff& h : pending) {
    if (!handoff_needed(h.object, worker)) continue;  // arrived, freed, or no longer needed
    const WorkerInfo& target = *workers_[h.to];
    if (target.alive && !target.retiring) r.pending.push_back(h);
    else hand_off(worker, h.object, r);  // its target left: another worker fetches it
  }
  if (r.pending.empty()) return true;
  if (now_us_ - r.since_us > handoff_timeout_us) {
    log::warn("worker ", w.name, " retires with ", r.pending.size(),
              " objects not yet copied elsewhere; they are recomputed if needed");
    return true;
  }
  return false;
}

std::size_t Scheduler::handoffs_pending(WorkerId worker) const {
  auto it = retiring_.find(worker);
  return it == retiring_.end() ? 0 : it->second.pending.size();
}

}  // namespace treadle
