// Recovery: a worker is gone. Its tasks run again elsewhere, and results that lived only
// there are recomputed from the plan if anyone still needs them (HyperLoom instead discards
// the whole computation).
#include <string_view>
#include <algorithm>

#include "../common/log.hpp"
#include "scheduler.hpp"

namespace treadle {

namespace {
bool has_data(const TaskRecord& t) { return t.state == TaskState::finished && !t.locations.empty(); }
bool unfinished(TaskState s) {
  return s == TaskState::waiting || s == TaskState::ready || s == TaskState::assigned || s == TaskState::running ||
         s == TaskState::redirected;
}
}  // namespace

void Scheduler::remove_worker(WorkerId worker, const char* reason) {
  if (worker >= workers_.size() || !workers_[worker]->alive) return;
  WorkerInfo& w = *workers_[worker];
  w.alive = false;
  --alive_workers_;
  if (std::string_view(reason) == "stopped") log::info("worker ", w.name, " stopped");
  else log::warn("worker ", w.name, " lost (", reason, ")");

  // One pass over the table: a worker loss is rare, a per-worker index would cost memory always.
  std::vector<TaskId> rerun, lost, lost_a_copy;
  for (auto& plan : tasks_.plans()) {
    if (!plan) continue;
    for (std::uint32_t local = 0; local < plan->size; ++local) {
      TaskId id = plan->base + local;
      TaskRecord& t = plan->records[local];
      if ((t.state == TaskState::assigned || t.state == TaskState::running) && t.worker == worker) {
        rerun.push_back(id);
      } else if (t.state == TaskState::finished) {
        auto it = std::find(t.locations.begin(), t.locations.end(), worker);
        if (it != t.locations.end()) {
          t.locations.erase(it);
          (t.locations.empty() ? lost : lost_a_copy).push_back(id);
        }
      }
    }
  }
  std::vector<TaskId> recount;
  for (TaskId id : rerun) {
    tasks_[id].rerun = true;
    transition(id, TaskState::waiting, "its worker was lost");
    recount.push_back(id);
  }
  // Only now: unassigning the tasks above gives their cpus back to this worker.
  w.free_cpus = static_cast<std::int32_t>(w.cpus);
  w.light_tasks = 0;
  for (TaskId id : lost) lose_data(id, worker);
  for (TaskId id : lost)
    if (tasks_[id].state == TaskState::waiting) recount.push_back(id);
  // Consumers that expected a lost result elsewhere must wait for it again.
  std::vector<TaskId> sent_back;
  for (TaskId id : lost) {
    for_each_consumer(tasks_[id], id, [&](TaskId c) {
      TaskRecord& consumer = tasks_[c];
      if (consumer.state == TaskState::ready || consumer.state == TaskState::assigned ||
          consumer.state == TaskState::running) {
        consumer.rerun = true;
        transition(c, TaskState::waiting, "an input was lost with a worker", worker);
        sent_back.push_back(c);
      }
      if (consumer.state == TaskState::waiting) recount.push_back(c);
    });
  }
  // Consumers not yet started elsewhere may have been told to fetch from the lost copy:
  // send them again, naming a copy that still exists.
  for (TaskId id : lost_a_copy) {
    for_each_consumer(tasks_[id], id, [&](TaskId c) {
      TaskRecord& consumer = tasks_[c];
      if (consumer.state != TaskState::assigned || consumer.worker == worker) return;
      auto where = std::find(tasks_[id].locations.begin(), tasks_[id].locations.end(), consumer.worker);
      if (where != tasks_[id].locations.end()) return;  // it has its own copy
      consumer.rerun = true;
      transition(c, TaskState::waiting, "it may have been fetching an input from the lost worker", worker);
      sent_back.push_back(c);
      recount.push_back(c);
    });
  }
  // Tasks chained behind those on their (surviving) worker expected them computed there;
  // the inputs may now run anywhere, so they wait too. A work list: chains can be long.
  while (!sent_back.empty()) {
    TaskId id = sent_back.back();
    sent_back.pop_back();
    for_each_consumer(tasks_[id], id, [&](TaskId c) {
      if (tasks_[c].state != TaskState::assigned) return;
      tasks_[c].rerun = true;
      transition(c, TaskState::waiting, "an input chained on the same worker was sent back");
      sent_back.push_back(c);
      recount.push_back(c);
    });
  }
  for (TaskId id : rerun) for_each_input_of(tasks_[id], [&](TaskId in) { require(in); });
  for (TaskId id : lost)
    if (tasks_[id].state == TaskState::waiting) for_each_input_of(tasks_[id], [&](TaskId in) { require(in); });

  std::sort(recount.begin(), recount.end());
  recount.erase(std::unique(recount.begin(), recount.end()), recount.end());
  for (TaskId id : recount) make_ready_or_wait(id, "inputs available again");
}

// `id` was finished but its only copy is gone.
void Scheduler::lose_data(TaskId id, WorkerId worker) {
  TaskRecord& t = tasks_[id];
  if (t.holds == 0) {
    transition(id, TaskState::released, "data lost, nobody needs it", worker);
    return;
  }
  t.lost_data = true;
  transition(id, TaskState::waiting, "data lost with its worker, recomputing", worker);
  // It will consume its inputs again.
  for_each_input_of(t, [&](TaskId in) { add_hold(in); });
}

void Scheduler::require(TaskId first) {
  std::vector<TaskId> work{first}, recovered;
  while (!work.empty()) {
    TaskId id = work.back();
    work.pop_back();
    TaskRecord& t = tasks_[id];
    if (has_data(t) || unfinished(t.state) || t.state == TaskState::failed) continue;
    // Released (or finished without a copy): compute it again from its inputs.
    if (t.state == TaskState::finished) t.locations.clear();
    t.lost_data = true;
    transition(id, TaskState::waiting, "recomputing a result that is needed again");
    for_each_input_of(t, [&](TaskId in) {
      add_hold(in);
      work.push_back(in);
    });
    recovered.push_back(id);
  }
  for (TaskId id : recovered) make_ready_or_wait(id, "inputs of a recomputed task are there");
}

void Scheduler::make_ready_or_wait(TaskId id, const char* reason) {
  TaskRecord& t = tasks_[id];
  if (t.state != TaskState::waiting) return;
  std::uint32_t missing = 0;
  std::optional<TaskId> failed_input;
  for_each_input_of(t, [&](TaskId in) {
    const TaskRecord& input = tasks_[in];
    if (input.state == TaskState::failed) {
      failed_input = in;
    } else if (!has_data(input)) {
      ++missing;
    }
  });
  t.unfinished_inputs = missing;
  // Recomputed after an input failed (e.g. that input's own recomputation): it can never
  // run, so it fails as that input's dependents did.
  if (failed_input) fail_with(id, as_dependent_of(*failed_input));
  else if (missing == 0) transition(id, TaskState::ready, reason);
}

}  // namespace treadle
