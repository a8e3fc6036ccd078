// Data objects: output k of task t is object_id(t, k) (Rain's (task, output) pairs).
//
// A task with one output (every HyperLoom task) is its own object: its TaskRecord holds the
// object's size, holds and locations, and nothing here costs it anything. A task with zero or
// several outputs has one ObjectRecord per output (outputs_): they are made together, on one
// worker, but each is held, copied to other workers, freed and lost on its own. Placement and
// recovery stay per task: a lost output that is still needed runs its task again, and the
// copies of its other outputs that survived stay where they are.
#include "scheduler.hpp"

namespace treadle {

std::uint32_t Scheduler::output_count(TaskId id) const {
  if (!tasks_[id].multi_output) return 1;
  return static_cast<std::uint32_t>(outputs_.at(id).size());
}

bool Scheduler::object_exists(ObjectId object) const {
  return exists(task_of(object)) && output_of(object) < output_count(task_of(object));
}

ObjectRecord* Scheduler::object_record(ObjectId object) {
  TaskRecord& t = tasks_[task_of(object)];
  if (!t.multi_output) return nullptr;
  auto& objects = outputs_.at(task_of(object));
  return output_of(object) < objects.size() ? &objects[output_of(object)] : nullptr;
}

const ObjectRecord* Scheduler::object_record(ObjectId object) const {
  return const_cast<Scheduler*>(this)->object_record(object);
}

const WorkerSet& Scheduler::locations(ObjectId object) const {
  static const WorkerSet none;
  const TaskRecord& t = tasks_[task_of(object)];
  if (!t.multi_output) return t.locations;
  const ObjectRecord* r = object_record(object);
  return r ? r->locations : none;
}

std::uint64_t Scheduler::object_size(ObjectId object) const {
  const ObjectRecord* r = object_record(object);
  return r ? r->size : result_size(task_of(object));
}

std::uint32_t Scheduler::object_keeps(ObjectId object) const {
  const TaskRecord& t = tasks_[task_of(object)];
  if (!t.multi_output) return keeps(task_of(object));
  const ObjectRecord* r = object_record(object);
  return r ? r->keeps : 0;
}

std::uint32_t Scheduler::object_holds(ObjectId object) const {
  const TaskRecord& t = tasks_[task_of(object)];
  if (!t.multi_output) return t.holds;
  const ObjectRecord* r = object_record(object);
  return r ? r->holds : 0;
}

bool Scheduler::has_data(ObjectId object) const {
  return tasks_[task_of(object)].state == TaskState::finished && !locations(object).empty();
}

bool Scheduler::object_at(ObjectId object, WorkerId worker) const {
  const auto& where = locations(object);
  return std::find(where.begin(), where.end(), worker) != where.end();
}

void Scheduler::output_made(WorkerId worker, ObjectId object, std::uint64_t size, std::uint64_t length,
                            std::uint8_t kind) {
  if (!exists(task_of(object))) return;
  const TaskRecord& t = tasks_[task_of(object)];
  if ((t.state != TaskState::assigned && t.state != TaskState::running) || t.worker != worker) return;
  ObjectRecord* r = object_record(object);
  if (!r) return;
  r->size = size;
  r->length = length;
  r->kind = kind;
}

void Scheduler::free_object(ObjectId object, ObjectRecord& r) {
  for (WorkerId w : r.locations)
    if (workers_.alive(w)) actions_.free_data(w, object);
  r.locations.clear();
  r.locations.shrink_to_fit();
}

void Scheduler::outputs_made_at(TaskId id, WorkerId worker) {
  auto& objects = outputs_.at(id);
  TaskRecord& t = tasks_[id];
  std::uint64_t size = 0;
  for (auto& r : objects) {
    if (std::find(r.locations.begin(), r.locations.end(), worker) == r.locations.end()) r.locations.push_back(worker);
    size += r.size;
  }
  set_result_size(id, t, size);
  set_result_length(id, t, objects.size());
}

void Scheduler::free_unheld_outputs(TaskId id) {
  auto& objects = outputs_.at(id);
  for (std::uint32_t k = 0; k < objects.size(); ++k)
    if (objects[k].holds == 0 && !objects[k].locations.empty()) free_object(object_id(id, k), objects[k]);
}

void Scheduler::free_all_outputs(TaskId id) {
  auto& objects = outputs_.at(id);
  for (std::uint32_t k = 0; k < objects.size(); ++k) free_object(object_id(id, k), objects[k]);
}

bool Scheduler::outputs_lost_with(TaskId id, WorkerId worker, bool& lost_a_copy) {
  bool lost = false;
  for (auto& r : outputs_.at(id)) {
    auto it = std::find(r.locations.begin(), r.locations.end(), worker);
    if (it == r.locations.end()) continue;
    r.locations.erase(it);
    if (!r.locations.empty()) lost_a_copy = true;
    else if (r.holds > 0) lost = true;
  }
  return lost;
}

}  // namespace treadle
