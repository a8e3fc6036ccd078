// Constants run beside their consumer.
//
// A constant (`const`, `py_value`: light, no inputs, made in microseconds from its config) that
// only one unfinished consumer holds matters only to that consumer, and moving it to the
// consumer costs a fetch, a copy report and a free, far more than making it. So it goes where
// the consumer will run:
// - where the consumer's other inputs are placed (a merge of a computed value and a constant);
// - chaining a consumer to a worker brings its constant inputs along at once, so a chain whose
//   steps each merge a fresh constant is sent as one batch, as a chain on a shared one is;
// - while an input of the consumer waits unplaced (the next steps of such a chain), the constant
//   is parked: held out of the ready queue until that input is placed, which brings it along
//   (chain_consumers) or puts it back in the queue (unpark), as does the consumer's end;
// - the constants of a consumer with many inputs (an array of 10,000 constants) follow the
//   previous one, so they fill one worker's room, then the next, instead of spreading over
//   every worker for the consumer to gather back from all of them.
#include "scheduler.hpp"

namespace treadle {

namespace {
constexpr std::uint32_t scanned_inputs = 8;  // as chaining: beyond this, a consumer is a fan-in
}  // namespace

bool Scheduler::lone_constant(TaskId id, const TaskRecord& t) const {
  return t.cpus == 0 && (t.type == const_type_ || t.type == py_value_type_) && t.holds == 1 && !t.kept &&
         !t.multi_output && inputs_of(id).size() == 0;
}

Scheduler::Beside Scheduler::beside_consumer(TaskId id, const TaskRecord& t) const {
  Beside b;
  const bool lone = lone_constant(id, t);
  bool unplaced_input = false;  // an input of a waiting consumer that will be placed later
  for_each_consumer(t, id, [&](TaskId c) {
    if (b.worker != no_worker) return;
    const TaskRecord& consumer = tasks_[c];
    auto consumer_inputs = inputs_of(c);
    if (consumer_inputs.size() > scanned_inputs) {
      if (!lone || consumer.state != TaskState::waiting || is_dynamic(consumer)) return;
      b.fan_in = c;
      if (fan_in_.consumer == c) {
        b.worker = fan_in_.worker;
        return;
      }
      const ObjectId first = *consumer_inputs.begin();  // a sibling placed before, in another turn
      if (tasks_[task_of(first)].worker != no_worker) b.worker = tasks_[task_of(first)].worker;
      else if (!locations(first).empty()) b.worker = locations(first).front();
      return;
    }
    for (ObjectId in : consumer_inputs) {
      const TaskRecord& other = tasks_[task_of(in)];
      if (other.worker != no_worker) b.worker = other.worker;
      else if (!locations(in).empty()) b.worker = locations(in).front();
      if (b.worker != no_worker) return;
      // dslice/dget are never placed: they expand, and their consumers are rewritten.
      if (task_of(in) != id && other.state == TaskState::waiting && consumer.state == TaskState::waiting &&
          !is_dynamic(other) && !is_dynamic(consumer))
        unplaced_input = true;
    }
  });
  b.park = lone && b.worker == no_worker && unplaced_input;
  return b;
}

bool Scheduler::bring_constants(InputSpan inputs, WorkerId worker) {
  for (ObjectId in : inputs) {
    const TaskId id = task_of(in);
    TaskRecord& t = tasks_[id];
    if (!comes_along(id, t)) continue;
    if (!fits(worker, t)) return false;
    t.worker = worker;
    transition(id, TaskState::assigned, "placed beside its consumer", worker,
               static_cast<std::uint8_t>(Placement::with_consumer));
    if (!observers_.empty()) {
      Choice beside;
      beside.worker = worker;
      beside.reason = Placement::with_consumer;
      notify_assigned(id, t, beside);
    }
  }
  return true;
}

void Scheduler::unpark(TaskId id) {
  if (parked_tasks_ == 0) return;
  if (tasks_[id].parked && tasks_[id].state == TaskState::ready) push_ready(id);  // clears the flag
}

}  // namespace treadle
