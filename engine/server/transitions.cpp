// The task state machine: one small function per (from, to) pair.
#include <cassert>

#include "../common/log.hpp"
#include "scheduler.hpp"

namespace treadle {

// A flat (from, to) table: looked up at every transition, several per task, where a std::map
// of the pairs cost ~165 instructions per task (bench/README.md, "The scheduler simulator").
const Scheduler::TransitionTable& Scheduler::table() {
  using S = TaskState;
  static const std::pair<std::pair<TaskState, TaskState>, TransitionFn> edges[] = {
      {{S::waiting, S::ready}, &Scheduler::to_ready},
      {{S::waiting, S::assigned}, &Scheduler::to_assigned},  // chained behind local inputs
      {{S::ready, S::assigned}, &Scheduler::to_assigned},
      {{S::assigned, S::running}, &Scheduler::to_running},
      {{S::assigned, S::finished}, &Scheduler::to_finished},  // light tasks report no start
      {{S::running, S::finished}, &Scheduler::to_finished},
      {{S::waiting, S::failed}, &Scheduler::to_failed},
      {{S::ready, S::failed}, &Scheduler::to_failed},
      {{S::assigned, S::failed}, &Scheduler::to_failed},
      {{S::running, S::failed}, &Scheduler::to_failed},
      {{S::finished, S::released}, &Scheduler::finished_to_released},
      {{S::waiting, S::cancelled}, &Scheduler::to_cancelled},
      {{S::ready, S::cancelled}, &Scheduler::to_cancelled},
      {{S::assigned, S::cancelled}, &Scheduler::to_cancelled},
      {{S::running, S::cancelled}, &Scheduler::to_cancelled},
      {{S::ready, S::waiting}, &Scheduler::back_to_waiting},     // an input was lost
      {{S::assigned, S::ready}, &Scheduler::given_back},         // its worker gave it back for a steal
      {{S::assigned, S::waiting}, &Scheduler::back_to_waiting},  // worker lost, or an input lost
      {{S::running, S::waiting}, &Scheduler::back_to_waiting},
      {{S::finished, S::waiting}, &Scheduler::back_to_waiting},  // its data was lost, still needed
      {{S::released, S::waiting}, &Scheduler::back_to_waiting},  // recomputed for a lost consumer
      {{S::cancelled, S::waiting}, &Scheduler::back_to_waiting},
      {{S::assigned, S::redirected}, &Scheduler::to_redirected},
      {{S::running, S::redirected}, &Scheduler::to_redirected},
      {{S::redirected, S::finished}, &Scheduler::redirect_finished},
      {{S::redirected, S::failed}, &Scheduler::to_failed},
      {{S::redirected, S::cancelled}, &Scheduler::to_cancelled},
  };
  static const TransitionTable transitions = [] {
    TransitionTable table{};  // null: no such transition
    for (auto& [edge, fn] : edges) table[static_cast<int>(edge.first)][static_cast<int>(edge.second)] = fn;
    return table;
  }();
  return transitions;
}

void Scheduler::transition(TaskId id, TaskState to, const char* reason, WorkerId worker, std::uint8_t placement) {
  TaskRecord& t = tasks_[id];
  TaskState from = t.state;
  const TransitionFn effect = table()[static_cast<int>(from)][static_cast<int>(to)];
  if (!effect) {
    log::error("scheduler: no transition ", state_name(from), " -> ", state_name(to), " for ", describe(id),
               " (", reason, ")");
    assert(false && "illegal task transition");
    return;
  }
  t.state = to;
  if (from == TaskState::ready) set_parked(t, false);
  --counts_[static_cast<int>(from)];
  ++counts_[static_cast<int>(to)];
  // A plan whose tasks have all settled may be garbage (collect_garbage decides).
  auto settled = [](TaskState s) {
    return s == TaskState::released || s == TaskState::failed || s == TaskState::cancelled;
  };
  if (settled(from) != settled(to)) {
    Plan& plan = tasks_.plan(id);
    if (settled(to)) {
      if (--plan.unsettled == 0) garbage_ = true;
    } else {
      ++plan.unsettled;
    }
  }
  // The worker involved: the one named, else the one it is assigned to (before the effect unassigns it).
  log_.record({id, from, to, placement, worker != no_worker ? worker : t.worker, reason, now_us_});
  if (from == TaskState::assigned || from == TaskState::running) count_on_worker(t, from, -1);
  const WorkerId on = t.worker;  // before the effect unassigns it
  (this->*effect)(id, t);
  if (to == TaskState::cancelled && (from == TaskState::assigned || from == TaskState::running))
    for (auto* o : observers_) o->on_cancelled(id, on, from == TaskState::running, now_us_);
  if (to == TaskState::assigned || to == TaskState::running) count_on_worker(t, to, +1);
}

void Scheduler::to_ready(TaskId id, TaskRecord& t) {
  if (is_dynamic(t)) {
    expand(id);  // dslice/dget: the scheduler rewrites the plan, no worker runs it
    return;
  }
  tasks_.details(id).ready_us = now_us_;
  push_ready(id);
  for (auto* o : observers_) o->on_ready(id, now_us_);
}

void Scheduler::to_assigned(TaskId id, TaskRecord& t) {
  WorkerInfo& w = *workers_[t.worker];
  change_load(w, [&] {
    if (t.cpus) w.free_cpus -= t.cpus;
    else ++w.light_tasks;
  });
  if (t.cpus) note_assigned(id, t);
  actions_.assign(t.worker, id);
}

void Scheduler::to_running(TaskId, TaskRecord&) {}

// A worker's running and queued tasks, as status reports them (WorkerInfo::running_tasks).
void Scheduler::count_on_worker(const TaskRecord& t, TaskState state, int delta) {
  if (t.worker == no_worker) return;
  WorkerInfo& w = *workers_[t.worker];
  if (state == TaskState::assigned) {
    w.queued_tasks += delta;
    return;
  }
  w.running_tasks += delta;
  if (!t.seceded) w.running_cpus += delta * std::int32_t(t.cpus);
}

void Scheduler::to_finished(TaskId id, TaskRecord& t) {
  WorkerId where = t.worker;
  unassign(t);
  if (t.multi_output) outputs_made_at(id, where);
  else t.locations.assign(1, where);
  ++workers_[where]->tasks_done;
  finished_effects(id, t);
}

// What finishing means for the rest of the graph, however the result came to be.
void Scheduler::finished_effects(TaskId id, TaskRecord& t) {
  t.lost_data = false;
  forget_rerun(id, t);
  t.rerun = false;
  for_each_consumer(t, id, [&](TaskId c) {
    TaskRecord& consumer = tasks_[c];
    if (consumer.state == TaskState::redirected && redirect_target_.count(c) && redirect_target_[c] == id) {
      request_alias(c);
    } else if (consumer.state == TaskState::waiting || consumer.state == TaskState::assigned) {
      if (consumer.unfinished_inputs > 0 && --consumer.unfinished_inputs == 0 &&
          consumer.state == TaskState::waiting)
        transition(c, TaskState::ready, "inputs finished");
    }
  });
  for_each_input_of(id, [&](ObjectId input) { drop_hold(input); });
  if (t.kept) actions_.kept_finished(id);
  else actions_.unkept_ended(id, TaskState::finished);
  // A consumer's finishing may have released it already (a redirected task drops its plan's root).
  if (t.holds == 0 && t.state == TaskState::finished) transition(id, TaskState::released, "nobody needs the result");
  else if (t.multi_output && t.state == TaskState::finished) free_unheld_outputs(id);
}

void Scheduler::to_failed(TaskId id, TaskRecord& t) {
  forget_rerun(id, t);
  if (t.worker != no_worker) {
    WorkerId where = t.worker;
    unassign(t);
    // The failing task's worker already dropped it; dependents queued there must be cancelled.
    if (failures_.at(id).origin != id && workers_[where]->alive) actions_.cancel(where, id);
  }
  if (t.multi_output) free_all_outputs(id);  // copies that survived a lost worker
  for_each_input_of(id, [&](ObjectId input) {
    drop_hold(input);
    unpark(task_of(input));  // a constant held back for it that others still need
  });
  drop_redirect_target(id);
  if (t.kept) actions_.kept_failed(id);
  else actions_.unkept_ended(id, TaskState::failed);
}

void Scheduler::finished_to_released(TaskId id, TaskRecord& t) {
  if (t.multi_output) free_all_outputs(id);
  for (WorkerId w : t.locations)
    if (workers_.alive(w)) actions_.free_data(w, id);
  t.locations.clear();
  t.locations.shrink_to_fit();
}

// Nobody needs it before it finished: it will not run (its worker drops it), and its inputs
// lose it as a consumer. Its own consumers were cancelled before it (they held it).
void Scheduler::to_cancelled(TaskId id, TaskRecord& t) {
  ++cancelled_;
  forget_rerun(id, t);
  if (t.worker != no_worker) {
    WorkerId where = t.worker;
    unassign(t);
    if (workers_[where]->alive) actions_.cancel(where, id);
  }
  if (t.multi_output) free_all_outputs(id);  // copies that survived a lost worker
  for_each_input_of(id, [&](ObjectId input) {
    drop_hold(input);
    unpark(task_of(input));
  });
  drop_redirect_target(id);
  actions_.task_cancelled(id);
}

void Scheduler::back_to_waiting(TaskId id, TaskRecord& t) {
  if (t.worker != no_worker) {
    WorkerId where = t.worker;
    unassign(t);
    if (workers_[where]->alive) actions_.cancel(where, id);
  }
  t.locations.clear();  // a multi-output task's surviving copies stay: its re-run adds to them
  // The caller recounts unfinished inputs and moves the task on to ready when it can.
}

}  // namespace treadle
