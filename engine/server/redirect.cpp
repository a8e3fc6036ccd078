// Task redirection: a Python task returned a Task. The plan it returned runs in its place,
// and its consumers get that plan's result (HyperLoom's "task redirection").
#include "scheduler.hpp"

namespace treadle {

void Scheduler::redirect(WorkerId worker, TaskId id, PlanRequest&& plan) {
  if (!exists(id)) return;
  TaskRecord& t = tasks_[id];
  if ((t.state != TaskState::assigned && t.state != TaskState::running) || t.worker != worker) return;
  if (plan.keep.size() != 1) throw PlanError("a redirect plan must have exactly one result");
  std::vector<TaskId> own_inputs;
  for_each_input_of(t, [&](TaskId in) { own_inputs.push_back(in); });
  for (auto& ref : plan.inputs) {
    if (ref & plan_local_bit) continue;
    if (!(ref & redirect_input_bit)) throw PlanError("a returned task may use only the task's own inputs and new tasks");
    std::uint64_t position = ref & ~redirect_input_bit;
    if (position >= own_inputs.size()) throw PlanError("a returned task names input " + std::to_string(position) + " of a task with " + std::to_string(own_inputs.size()));
    ref = own_inputs[position];
  }
  std::uint32_t root_local = plan.keep.front();
  plan.keep.clear();
  TaskId base = submit(tasks_.plans()[t.plan]->client, std::move(plan));
  TaskRecord& task = tasks_[id];  // submit() may have grown the table
  TaskId root = base + root_local;
  add_hold(root);
  extra_consumers_[root].push_back(id);
  tasks_[root].has_extra_consumers = true;
  redirect_target_[id] = root;
  (void)task;
  transition(id, TaskState::redirected, "returned a task: the plan runs in its place");
  // The root may be done already (it can be one of the task's own, finished inputs).
  if (tasks_[root].state == TaskState::finished) transition(id, TaskState::finished, "the plan it returned finished");
  else if (tasks_[root].state == TaskState::failed) fail_with(id, Failure{failure(root)->origin, failure(root)->message});
}

void Scheduler::to_redirected(TaskId, TaskRecord& t) {
  unassign(t);  // the worker is done with it: its cpus are free
}

void Scheduler::redirect_finished(TaskId id, TaskRecord& t) {
  TaskId root = redirect_target_.at(id);
  const TaskRecord& r = tasks_[root];
  t.locations = r.locations;
  t.size = r.size;
  t.length = r.length;
  t.kind = r.kind;
  for (WorkerId w : t.locations) actions_.alias(w, root, id);
  finished_effects(id, t);
  drop_redirect_target(id);
}

void Scheduler::drop_redirect_target(TaskId id) {
  auto it = redirect_target_.find(id);
  if (it == redirect_target_.end()) return;
  TaskId root = it->second;
  redirect_target_.erase(it);
  drop_hold(root);
}

}  // namespace treadle
