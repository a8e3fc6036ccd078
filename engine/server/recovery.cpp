// Recovery: a worker is gone. Its tasks run again elsewhere, and results that lived only
// there are recomputed from the plan if anyone still needs them (HyperLoom instead discards
// the whole computation).
#include <string_view>
#include <algorithm>

#include "../common/log.hpp"
#include "scheduler.hpp"

namespace treadle {

namespace {
bool unfinished(TaskState s) {
  return s == TaskState::waiting || s == TaskState::ready || s == TaskState::assigned || s == TaskState::running ||
         s == TaskState::redirected;
}
}  // namespace

void Scheduler::remove_worker(WorkerId worker, const char* reason) {
  if (worker >= workers_.size() || !workers_[worker]->alive) return;
  WorkerInfo& w = *workers_[worker];
  unlist_worker(w);  // unless it was retiring, and so unlisted already
  workers_.mark_gone(worker);
  --alive_workers_;
  retiring_.erase(worker);
  forget_steals_of(worker);
  left_.emplace_back(worker, now_us_);  // what it could run waits a while for a worker like it (fit_grace.cpp)
  if (w.retiring) log::info("worker ", w.name, " retired (", reason, ")");
  else if (std::string_view(reason) == "stopped") log::info("worker ", w.name, " stopped");
  else log::warn("worker ", w.name, " lost (", reason, ")");

  // One pass over the table: a worker loss is rare, a per-worker index would cost memory always.
  std::vector<TaskId> rerun, lost, lost_a_copy;
  for (auto& plan : tasks_.plans()) {
    if (!plan) continue;
    for (std::uint32_t local = 0; local < plan->size; ++local) {
      TaskId id = plan->base + local;
      TaskRecord& t = plan->records[local];
      bool lost_output = false, lost_output_copy = false;
      // Copies of a multi-output task's objects are dropped in any state: they survive its re-runs.
      if (t.multi_output) lost_output = outputs_lost_with(id, worker, lost_output_copy);
      if ((t.state == TaskState::assigned || t.state == TaskState::running) && t.worker == worker) {
        rerun.push_back(id);
      } else if (t.state == TaskState::finished && t.multi_output) {
        if (lost_output) lost.push_back(id);
        else if (lost_output_copy) lost_a_copy.push_back(id);
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
  losing_ = worker;  // the tasks sent back from here on are placed again because of it
  for (TaskId id : rerun) {
    mark_rerun(id, tasks_[id]);
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
  for (TaskId id : lost) send_consumers_back(id, "an input was lost with a worker", worker, sent_back, recount);
  // Consumers not yet started elsewhere may have been told to fetch from the lost copy:
  // send them again, naming a copy that still exists.
  for (TaskId id : lost_a_copy) {
    for_each_consumer(tasks_[id], id, [&](TaskId c) {
      TaskRecord& consumer = tasks_[c];
      if (consumer.state != TaskState::assigned || consumer.worker == worker) return;
      bool own_copies = true;
      for_each_input_of(c, [&](ObjectId in) {
        if (task_of(in) == id && !object_at(in, consumer.worker)) own_copies = false;
      });
      if (own_copies) return;  // it has its own copy
      mark_rerun(c, consumer);
      transition(c, TaskState::waiting, "it may have been fetching an input from the lost worker", worker);
      sent_back.push_back(c);
      recount.push_back(c);
    });
  }
  unchain_sent_back(sent_back, recount);
  for (TaskId id : rerun) for_each_input_of(id, [&](ObjectId in) { require(in); });
  for (TaskId id : lost)
    if (tasks_[id].state == TaskState::waiting) for_each_input_of(id, [&](ObjectId in) { require(in); });

  losing_ = no_worker;
  std::sort(recount.begin(), recount.end());
  recount.erase(std::unique(recount.begin(), recount.end()), recount.end());
  for (TaskId id : recount) make_ready_or_wait(id, "inputs available again");
}

void Scheduler::mark_rerun(TaskId id, TaskRecord& t) {
  t.rerun = true;
  if (losing_ != no_worker) lost_before_[id] = losing_;
}

// `id` will be computed again: its consumers that are placed or about to be go back to waiting
// (`sent_back`), and those waiting must recount their inputs.
void Scheduler::send_consumers_back(TaskId id, const char* reason, WorkerId worker, std::vector<TaskId>& sent_back,
                                    std::vector<TaskId>& recount) {
  for_each_consumer(tasks_[id], id, [&](TaskId c) {
    TaskRecord& consumer = tasks_[c];
    if (consumer.state == TaskState::ready || consumer.state == TaskState::assigned ||
        consumer.state == TaskState::running) {
      mark_rerun(c, consumer);
      transition(c, TaskState::waiting, reason, worker);
      sent_back.push_back(c);
    }
    if (consumer.state == TaskState::waiting) recount.push_back(c);
  });
}

// Tasks chained behind those sent back, on their (surviving) worker, expected them computed
// there; the inputs may now run anywhere, so they wait too. A work list: chains can be long.
void Scheduler::unchain_sent_back(std::vector<TaskId>& sent_back, std::vector<TaskId>& recount) {
  while (!sent_back.empty()) {
    TaskId id = sent_back.back();
    sent_back.pop_back();
    for_each_consumer(tasks_[id], id, [&](TaskId c) {
      if (tasks_[c].state != TaskState::assigned) return;
      mark_rerun(c, tasks_[c]);
      transition(c, TaskState::waiting, "an input chained on the same worker was sent back");
      sent_back.push_back(c);
      recount.push_back(c);
    });
  }
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
  for_each_input_of(id, [&](ObjectId in) { add_hold(in); });
}

void Scheduler::require(ObjectId first) {
  std::vector<ObjectId> work{first};
  std::vector<TaskId> recovered, sent_back, recount;
  while (!work.empty()) {
    ObjectId object = work.back();
    work.pop_back();
    const TaskId id = task_of(object);
    TaskRecord& t = tasks_[id];
    if (has_data(object) || unfinished(t.state) || t.state == TaskState::failed) continue;
    // Released (or finished without a copy): compute it again from its inputs.
    if (t.state == TaskState::finished) t.locations.clear();
    const bool partly_there = t.state == TaskState::finished;  // other outputs of it are used
    t.lost_data = true;
    transition(id, TaskState::waiting, "recomputing a result that is needed again");
    if (partly_there) send_consumers_back(id, "an input is computed again for another of its outputs", no_worker,
                                          sent_back, recount);
    for_each_input_of(id, [&](ObjectId in) {
      add_hold(in);
      work.push_back(in);
    });
    recovered.push_back(id);
  }
  unchain_sent_back(sent_back, recount);
  for (TaskId id : recovered) make_ready_or_wait(id, "inputs of a recomputed task are there");
  std::sort(recount.begin(), recount.end());
  recount.erase(std::unique(recount.begin(), recount.end()), recount.end());
  for (TaskId id : recount) make_ready_or_wait(id, "inputs available again");
}

void Scheduler::make_ready_or_wait(TaskId id, const char* reason) {
  TaskRecord& t = tasks_[id];
  if (t.state != TaskState::waiting) return;
  std::uint32_t missing = 0;
  std::optional<TaskId> failed_input;
  for_each_input_of(id, [&](ObjectId in) {
    const TaskRecord& input = tasks_[task_of(in)];
    if (input.state == TaskState::failed) {
      failed_input = task_of(in);
    } else if (!has_data(in)) {
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
