// Task redirection: a Python task returned a Task. The plan it returned runs in its place,
// and its consumers get that plan's result (HyperLoom's "task redirection").
#include "scheduler.hpp"

namespace treadle {

void Scheduler::redirect(WorkerId worker, TaskId id, PlanRequest&& plan) {
  if (!exists(id)) return;
  TaskRecord& t = tasks_[id];
  if ((t.state != TaskState::assigned && t.state != TaskState::running) || t.worker != worker) return;
  if (plan.keep.size() != 1) throw PlanError("a redirect plan must have exactly one result");
  if (plan.keep.front() >= plan.type_of.size()) throw PlanError("a redirect plan's result is not one of its tasks");
  if (t.multi_output) throw PlanError(describe(id) + " has " + std::to_string(output_count(id)) +
                                      " outputs: it cannot return a task in their place");
  if (plan.outputs.count(plan.keep.front()) && plan.outputs.at(plan.keep.front()).count() != 1)
    throw PlanError("a redirect plan's result must be a task with one output");
  std::vector<ObjectId> own_inputs;
  for_each_input_of(id, [&](ObjectId in) { own_inputs.push_back(in); });
  for (auto& ref : plan.inputs) {
    if (ref & plan_local_bit) continue;
    if (!(ref & redirect_input_bit)) throw PlanError("a returned task may use only the task's own inputs and new tasks");
    std::uint64_t position = ref & ~redirect_input_bit;
    if (position >= own_inputs.size()) throw PlanError("a returned task names input " + std::to_string(position) + " of a task with " + std::to_string(own_inputs.size()));
    ref = own_inputs[position];
  }
  std::uint32_t root_local = plan.keep.front();
  plan.keep.clear();
  TaskId base = submit(tasks_.plan(id).client, std::move(plan));
  TaskRecord& task = tasks_[id];  // submit() may have grown the table
  TaskId root = base + root_local;
  add_hold(root);
  extra_consumers_[root].push_back(id);
  tasks_[root].has_extra_consumers = true;
  redirect_target_[id] = root;
  (void)task;
  transition(id, TaskState::redirected, "returned a task: the plan runs in its place");
  // The root may be done already (it can be one of the task's own, finished inputs).
  if (tasks_[root].state == TaskState::finished) request_alias(id);
  else if (tasks_[root].state == TaskState::failed) fail_with(id, as_dependent_of(root));
}

void Scheduler::to_redirected(TaskId id, TaskRecord& t) {
  WorkerId where = t.worker;
  unassign(t);  // the worker is done with it: its cpus are free
  unchain_consumers(id, where);
}

// Consumers chained behind a redirected task wait on its worker for a result that will not be
// made there: the returned plan may finish on any worker. They (and the tasks chained behind
// them in turn) go back to waiting and are placed again once the plan's result exists.
void Scheduler::unchain_consumers(TaskId first, WorkerId worker, const char* reason) {
  std::vector<TaskId> work{first}, unchained;
  while (!work.empty()) {
    TaskId id = work.back();
    work.pop_back();
    for_each_consumer(tasks_[id], id, [&](TaskId c) {
      const TaskRecord& consumer = tasks_[c];
      // An input is unfinished, so an assigned consumer can only be one chained behind it.
      if (consumer.state != TaskState::assigned || consumer.worker != worker) return;
      transition(c, TaskState::waiting, reason);
      unchained.push_back(c);
      work.push_back(c);
    });
  }
  for (TaskId c : unchained) make_ready_or_wait(c, "inputs finished");
}

// The plan's root finished: the workers holding it are asked to hold it under the task's id
// too. The task finishes when the first says it does (alias_held), not before: until then a
// consumer sent to fetch it from there could arrive first and find nothing.
void Scheduler::request_alias(TaskId id) {
  TaskId root = redirect_target_.at(id);
  for (WorkerId w : tasks_[root].locations) actions_.alias(w, root, id);
}

void Scheduler::alias_held(WorkerId worker, TaskId id) {
  if (!exists(id) || worker >= workers_.size() || !workers_[worker]->alive) return;
  TaskRecord& t = tasks_[id];
  if (t.state == TaskState::finished) return data_replicated(worker, id);
  auto target = redirect_target_.find(id);
  if (t.state != TaskState::redirected || target == redirect_target_.end() ||
      tasks_[target->second].state != TaskState::finished) {
    actions_.free_data(worker, id);  // released or failed meanwhile
    return;
  }
  t.locations.assign(1, worker);
  transition(id, TaskState::finished, "the plan it returned finished", worker);
}

void Scheduler::redirect_finished(TaskId id, TaskRecord& t) {
  const TaskId target = redirect_target_.at(id);
  set_result_size(id, t, result_size(target));
  set_result_length(id, t, result_length(target));
  t.kind = tasks_[target].kind;
  finished_effects(id, t);
  drop_redirect_target(id);
}

void Scheduler::drop_redirect_target(TaskId id) {
  auto it = redirect_target_.find(id);
  if (it == redirect_target_.end()) return;
  TaskId root = it->second;
  redirect_target_.erase(it);
  // It no longer consumes the root: its plan may be freed before the root's.
  auto consumers = extra_consumers_.find(root);
  if (consumers != extra_consumers_.end()) {
    auto& v = consumers->second;
    v.erase(std::remove(v.begin(), v.end(), id), v.end());
    if (v.empty()) {
      extra_consumers_.erase(consumers);
      tasks_[root].has_extra_consumers = false;
    }
  }
  drop_hold(root);
}

}  // namespace treadle
