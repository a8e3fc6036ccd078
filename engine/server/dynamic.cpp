// Dynamic slice and get (HyperLoom's dslice/dget, which its last release disables).
//
//   d = dslice(x);  f = F(..., d, ...);  r = array_make((f,))
//
// When x is computed, its length is known: the scheduler writes k pieces of x (slice or
// get tasks) and k copies of every consumer F with d replaced by a piece. F becomes an
// array_make of its copies (so a future held on F still gets every result), and an
// array_make that used F uses the copies in its place, so r gets them flat, as the
// hand-written expansion would. k is x's length for dget; for dslice it is chosen from the
// length and the cpus of the connected workers.
//
// x must have pieces: an array or an index (cut by get/slice tasks), or a PyObj holding a
// Python sequence (cut by Python tasks, in an executor: see python_piece_config). Anything
// else fails the dslice/dget with a message saying so, rather than expanding into nothing.
#include <algorithm>
#include <cstring>

#include "../common/batches.hpp"
#include "../common/symbols.hpp"
#include "../data/data.hpp"
#include "scheduler.hpp"

namespace treadle {

namespace {
std::string u64_le(std::uint64_t v) {
  std::string out(8, '\0');
  std::memcpy(out.data(), &v, 8);
  return out;
}
constexpr std::uint64_t pieces_per_cpu = 2;  // some slack, so a slow piece does not hold all back

// The config of a loom/py/call that cuts its PyObj input (a sequence) instead of calling it:
// the executor answers obj[from] (an item) or obj[from:to] (a slice), as PyObjs.
std::string python_piece_config(bool item, std::uint64_t from, std::uint64_t to) {
  return std::string(item ? symbols::python_item_marker : symbols::python_slice_marker) + u64_le(from) +
         (item ? std::string() : u64_le(to));
}
}  // namespace

bool Scheduler::is_dynamic(const TaskRecord& t) const {
  const std::string& name = type_names_[t.type];
  return name == symbols::dslice || name == symbols::dget;
}

void Scheduler::expand(TaskId id) {
  TaskRecord& d = tasks_[id];
  const bool get = type_names_[d.type] == symbols::dget;
  auto d_inputs = inputs_of(id);
  if (d_inputs.size() != 1) {
    fail_with(id, Failure{id, std::string(get ? "dget" : "dslice") + " needs exactly one input"});
    return;
  }
  const ObjectId x = *d_inputs.begin();
  if (tasks_[task_of(x)].multi_output) {
    fail_with(id, Failure{id, std::string(get ? "dget" : "dslice") + " of an output of " + describe(task_of(x)) +
                                  ", a task with other than one output, is not supported"});
    return;
  }
  const std::uint64_t n = result_length(x);
  const auto kind = static_cast<DataKind>(tasks_[x].kind & ~FinishedBatch::has_pieces_bit);
  if (!(tasks_[x].kind & FinishedBatch::has_pieces_bit)) {
    fail_with(id, Failure{id, std::string(get ? "dget" : "dslice") + " needs an array, an index or a PyObj holding a " +
                                  "Python sequence (a list, a tuple...); its input " + describe(x) + " gave a " +
                                  kind_name(kind) + " object, which has no pieces to cut"});
    return;
  }
  const bool python = kind == DataKind::pyobj;
  std::uint64_t cpus = 0;
  for (auto& w : workers_)
    if (w->alive) cpus += w->cpus;
  const std::uint64_t k = get ? n : std::min<std::uint64_t>(n, std::max<std::uint64_t>(1, cpus * pieces_per_cpu));

  std::vector<TaskId> consumers;
  bool multi_output_consumer = false;
  for_each_consumer(d, id, [&](TaskId c) {
    if (std::find(consumers.begin(), consumers.end(), c) == consumers.end()) consumers.push_back(c);
    multi_output_consumer |= tasks_[c].multi_output;
  });
  if (multi_output_consumer) {  // its copies would need an array per output
    fail_with(id, Failure{id, std::string(get ? "dget" : "dslice") +
                                  " used by a task with other than one output is not supported"});
    return;
  }

  // The new tasks, as a plan: pieces first, then the copies of each consumer.
  PlanRequest r;
  auto type_index = [&](const std::string& name) {
    auto it = std::find(r.types.begin(), r.types.end(), name);
    if (it != r.types.end()) return static_cast<std::uint32_t>(it - r.types.begin());
    r.types.push_back(name);
    return static_cast<std::uint32_t>(r.types.size() - 1);
  };
  r.config_offsets.push_back(0);
  auto add_task = [&](const std::string& type, std::uint32_t cpus_wanted, const std::vector<std::uint64_t>& inputs,
                      std::string_view config, const std::string& label) {
    r.type_of.push_back(type_index(type));
    r.cpus.push_back(cpus_wanted);
    r.input_counts.push_back(static_cast<std::uint32_t>(inputs.size()));
    r.inputs.insert(r.inputs.end(), inputs.begin(), inputs.end());
    r.configs.append(config);
    r.config_offsets.push_back(r.configs.size());
    auto l = std::find(r.labels.begin(), r.labels.end(), label);
    if (l == r.labels.end()) l = r.labels.insert(r.labels.end(), label);
    r.label_of.push_back(static_cast<std::uint32_t>(l - r.labels.begin()));
  };
  r.labels.push_back("");
  for (std::uint64_t i = 0; i < k; ++i) {
    std::uint64_t from = get ? i : n * i / k, to = get ? i + 1 : n * (i + 1) / k;
    if (python)
      add_task(std::string(symbols::py_call), 0, {x}, python_piece_config(get, from, to), label(id));
    else if (get)
      add_task(std::string(symbols::get), 0, {x}, u64_le(from), label(id));
    else
      add_task(std::string(symbols::slice), 0, {x}, u64_le(from) + u64_le(to), label(id));
  }
  for (TaskId c : consumers) {
    const TaskRecord& f = tasks_[c];
    std::vector<ObjectId> f_inputs(inputs_of(c).begin(), inputs_of(c).end());
    for (std::uint64_t i = 0; i < k; ++i) {
      std::vector<std::uint64_t> inputs;
      for (ObjectId in : f_inputs) inputs.push_back(in == id ? (plan_local_bit | i) : in);
      add_task(type_names_[f.type], f.cpus, inputs, config(c), label(c));
    }
  }
  const ClientId client = tasks_.plan(id).client;
  const TaskId base = submit(client, std::move(r));  // holds, priorities, states of the new tasks

  const auto array_make = intern_type(std::string(symbols::array_make));
  std::uint64_t copy = base + k;
  std::vector<TaskId> rewritten(consumers);
  for (TaskId c : consumers) {
    std::vector<TaskId> copies;
    for (std::uint64_t i = 0; i < k; ++i) copies.push_back(copy++);
    std::vector<ObjectId> old_inputs(inputs_of(c).begin(), inputs_of(c).end());
    // F becomes the array of its copies.
    for (TaskId cp : copies) {
      add_hold(cp);
      extra_consumers_[cp].push_back(c);
      tasks_[cp].has_extra_consumers = true;
    }
    input_override_[c] = copies;
    config_override_[c] = std::string();
    TaskRecord& f = tasks_[c];
    f.inputs_overridden = true;
    f.type = array_make;
    f.cpus = 0;
    // An array_make that used F takes the copies in F's place.
    std::vector<TaskId> users;
    for_each_consumer(f, c, [&](TaskId u) {
      if (tasks_[u].type == array_make && std::find(users.begin(), users.end(), u) == users.end()) users.push_back(u);
    });
    for (TaskId u : users) {
      TaskRecord& user = tasks_[u];
      if (user.state != TaskState::waiting) continue;
      std::vector<TaskId> spliced;
      for (ObjectId in : inputs_of(u)) {
        if (in != c) {
          spliced.push_back(in);
          continue;
        }
        spliced.insert(spliced.end(), copies.begin(), copies.end());
        for (TaskId cp : copies) {
          add_hold(cp);
          extra_consumers_[cp].push_back(u);
        }
      }
      input_override_[u] = std::move(spliced);
      user.inputs_overridden = true;
      rewritten.push_back(u);
      drop_hold(c);  // once per use it had of F (one array_make rarely names F twice)
    }
    // F no longer consumes its old inputs (the copies do).
    for (ObjectId in : old_inputs) drop_hold(in);
  }
  // Recount the rewritten tasks; some may be ready at once (k == 0).
  for (TaskId c : rewritten) {
    TaskRecord& t = tasks_[c];
    if (t.state != TaskState::waiting) continue;  // cancelled meanwhile
    std::uint32_t missing = 0;
    for (ObjectId in : inputs_of(c))
      if (tasks_[task_of(in)].state != TaskState::finished) ++missing;
    t.unfinished_inputs = missing;
    if (missing == 0) transition(c, TaskState::ready, "expanded into no pieces");
  }
}

}  // namespace treadle
