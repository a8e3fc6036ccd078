#include "scheduler.hpp"

#include <algorithm>
#include <limits>

#include "../common/symbols.hpp"

namespace treadle {

namespace {
// Frees a vector's buffer now (clear() keeps it).
template <typename T>
void release_column(std::vector<T>& column) {
  std::vector<T>().swap(column);
}
}  // namespace

Scheduler::Scheduler(SchedulerActions& actions, std::size_t transition_log_capacity)
    : actions_(actions), log_(transition_log_capacity) {
  for (auto symbol : symbols::builtins) builtin_type_[intern_type(std::string(symbol))] = true;
  for (auto symbol : {symbols::py_call, symbols::dslice, symbols::dget})
    builtin_type_[intern_type(std::string(symbol))] = true;
  const_type_ = intern_type(std::string(symbols::const_));
  py_value_type_ = intern_type(std::string(symbols::py_value));
}

Scheduler::~Scheduler() = default;

std::uint16_t Scheduler::intern_type(const std::string& symbol) {
  auto it = type_ids_.find(symbol);
  if (it != type_ids_.end()) return it->second;
  if (type_names_.size() >= 0xffff) throw PlanError("too many distinct task types");
  auto id = static_cast<std::uint16_t>(type_names_.size());
  type_names_.push_back(symbol);
  type_ids_.emplace(symbol, id);
  builtin_type_.push_back(false);
  type_offers_.add_type();
  for (auto& w : workers_) w->offers_type.push_back(false);
  return id;
}

bool Scheduler::type_known(std::uint16_t type) const {
  if (builtin_type_[type]) return true;
  for (auto& w : workers_)
    if (w->alive && w->offers_type[type]) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Plans

TaskId Scheduler::submit(ClientId client, PlanRequest&& r) {
  const std::size_t n = r.type_of.size();
  auto bad = [](const std::string& what) { throw PlanError("malformed plan: " + what); };
  if (r.cpus.size() != n || r.input_counts.size() != n) bad("columns differ in length");
  if (r.config_offsets.size() != n + 1 || r.config_offsets.front() != 0 || r.config_offsets.back() != r.configs.size())
    bad("config offsets do not cover the configs");
  for (std::size_t i = 0; i < n; ++i)
    if (r.config_offsets[i] > r.config_offsets[i + 1]) bad("config offsets decrease");
  if (r.configs.size() > max_plan_configs)
    throw PlanError("the plan's task configs take " + std::to_string(r.configs.size()) +
                    " bytes; a plan may have at most 4 GiB of them: split it into several plans");
  if (!r.label_of.empty() && r.label_of.size() != n) bad("label column has the wrong length");
  if (r.labels.empty()) r.labels.push_back("");
  for (auto l : r.label_of)
    if (l >= r.labels.size()) bad("label index out of range");
  std::uint64_t total_inputs = 0;
  for (auto c : r.input_counts) total_inputs += c;
  if (total_inputs != r.inputs.size()) bad("input counts do not match the inputs");
  for (auto k : r.keep)
    if (k >= n) bad("kept task index out of range");
  for (auto t : r.type_of)
    if (t >= r.types.size()) bad("type index out of range");
  if (n >= (std::uint64_t{1} << 32)) bad("too many tasks");

  std::vector<std::uint16_t> types;
  for (auto& symbol : r.types) {
    // Not interned when unknown: plans of made-up symbols must not fill the type table.
    auto known = type_ids_.find(symbol);
    if (known == type_ids_.end() || !type_known(known->second))
      throw PlanError("unknown task type '" + symbol + "': no connected worker offers it");
    types.push_back(known->second);
  }

  const TaskId base = tasks_.next_id();
  auto plan = std::make_unique<Plan>();
  plan->client = client;
  plan->base = base;
  plan->submitted_us = now_us_;
  plan->size = static_cast<std::uint32_t>(n);
  plan->input_offsets.resize(n + 1);
  plan->inputs.resize(r.inputs.size());

  for (auto& [local, specs] : r.outputs) {
    if (local >= n) bad("outputs of a task the plan has not");
    if (specs.content_types.size() != specs.labels.size()) bad("output labels and content types differ in number");
    if (specs.count() > max_outputs) bad("a task has more than " + std::to_string(max_outputs) + " outputs");
  }
  auto outputs_of_local = [&](std::uint64_t j) -> std::uint32_t {
    if (r.outputs.empty()) return 1;
    auto it = r.outputs.find(static_cast<std::uint32_t>(j));
    return it == r.outputs.end() ? 1 : it->second.count();
  };
  auto outputs_phrase = [](std::uint32_t count) {
    return count == 1 ? std::string("1 output") : std::to_string(count) + " outputs";
  };

  // Inputs: objects of earlier tasks of this plan (so a plan can have no cycle), or of live
  // earlier tasks; each names an output its task has.
  std::vector<std::uint32_t> consumer_counts(n + 1, 0);
  std::size_t pos = 0;
  for (std::size_t i = 0; i < n; ++i) {
    plan->input_offsets[i] = static_cast<std::uint32_t>(pos);
    for (std::uint32_t k = 0; k < r.input_counts[i]; ++k, ++pos) {
      const std::uint64_t ref = r.inputs[pos];
      const std::uint64_t bare = ref & ~plan_local_bit;
      const std::uint64_t output = bare >> output_shift;
      if (output >= max_outputs)
        throw PlanError("task " + std::to_string(i) + " of the plan names output " + std::to_string(output) +
                        " of a task (at most " + std::to_string(max_outputs) + " outputs)");
      if (ref & plan_local_bit) {
        std::uint64_t j = bare & task_mask;
        if (j >= i)
          throw PlanError("task " + std::to_string(i) + " of the plan uses task " + std::to_string(j) +
                          ", which does not come before it: the plan has a cycle or is not in order");
        if (output >= outputs_of_local(j))
          throw PlanError("task " + std::to_string(i) + " of the plan uses output " + std::to_string(output) +
                          " of task " + std::to_string(j) + " of the plan, which has " +
                          outputs_phrase(outputs_of_local(j)));
        plan->inputs[pos] = object_id(base + j, static_cast<std::uint32_t>(output));
        ++consumer_counts[j];
      } else {
        const TaskId old_id = bare & task_mask;
        if (old_id >= base) throw PlanError("input task " + std::to_string(old_id) + " does not exist");
        // Its plan was freed: it was released (or failed) and unheld long ago.
        if (!tasks_.live(old_id))
          throw PlanError("input task " + std::to_string(old_id) + " was released and cannot be used any more");
        const TaskRecord& old = tasks_[old_id];
        if (old.state == TaskState::released && old.holds == 0)
          throw PlanError("input " + describe(old_id) + " was released and cannot be used any more");
        if (old.state == TaskState::cancelled)
          throw PlanError("input " + describe(old_id) + " was cancelled and cannot be used any more");
        if (output >= output_count(old_id))
          throw PlanError("task " + std::to_string(i) + " of the plan uses output " + std::to_string(output) + " of " +
                          describe(old_id) + ", which has " + outputs_phrase(output_count(old_id)));
        if (const ObjectRecord* object = object_record(bare))
          if (old.state == TaskState::finished && object->holds == 0 && object->locations.empty())
            throw PlanError("output " + std::to_string(output) + " of " + describe(old_id) +
                            " was released and cannot be used any more");
        plan->inputs[pos] = bare;
      }
    }
  }
  plan->input_offsets[n] = static_cast<std::uint32_t>(pos);
  for (std::size_t i = 0; i < n; ++i)
    if (r.cpus[i] > 0xffff) bad("cpu request too large");
  // The request's columns go as soon as the plan has what it needs of them: at a million
  // tasks each is several MB, and they would otherwise stay until submit returns.
  release_column(r.inputs);
  release_column(r.input_counts);

  // Consumers within the plan, as CSR.
  plan->consumer_offsets.resize(n + 1);
  std::uint32_t acc = 0;
  for (std::size_t i = 0; i < n; ++i) {
    plan->consumer_offsets[i] = acc;
    acc += consumer_counts[i];
  }
  plan->consumer_offsets[n] = acc;
  plan->consumers.resize(acc);
  release_column(consumer_counts);
  std::vector<std::uint32_t> fill(plan->consumer_offsets.begin(), plan->consumer_offsets.end() - 1);
  for (std::size_t i = 0; i < n; ++i)
    for (auto p = plan->input_offsets[i]; p < plan->input_offsets[i + 1]; ++p)
      if (task_of(plan->inputs[p]) >= base)
        plan->consumers[fill[task_of(plan->inputs[p]) - base]++] = static_cast<std::uint32_t>(i);
  release_column(fill);

  plan->configs = std::move(r.configs);
  plan->config_offsets.assign(r.config_offsets.begin(), r.config_offsets.end());  // checked: under 4 GiB
  release_column(r.config_offsets);
  plan->labels = std::move(r.labels);
  // A plan without labels (the common case) keeps no label column: label() reads "" then.
  if (std::any_of(r.label_of.begin(), r.label_of.end(), [](std::uint32_t l) { return l != 0; }))
    plan->label_of = std::move(r.label_of);
  release_column(r.label_of);
  plan->outputs = std::move(r.outputs);

  // Records. Priority: longest path to a sink, computed from the sinks back.
  const std::uint32_t plan_index = tasks_.add(std::move(plan));
  Plan& p = *tasks_.plans()[plan_index];
  p.unsettled = static_cast<std::uint32_t>(n);
  for (std::size_t i = n; i-- > 0;) {
    TaskRecord& t = tasks_[base + i];
    t.type = types[r.type_of[i]];
    t.cpus = static_cast<std::uint16_t>(r.cpus[i]);
    t.no_inputs = p.inputs_begin(i) == p.inputs_end(i);
    t.no_consumers = p.consumers_begin(i) == p.consumers_end(i);
    std::int32_t longest = 0;
    for (auto c = p.consumers_begin(i); c != p.consumers_end(i); ++c)
      longest = std::max(longest, p.details[*c].priority);
    p.details[i].priority = longest + 1;
    if (const OutputSpecs* specs = p.output_specs(static_cast<std::uint32_t>(i)); specs && specs->count() != 1) {
      t.multi_output = true;
      outputs_[base + i].resize(specs->count());
    }
  }
  counts_[static_cast<int>(TaskState::waiting)] += n;
  release_column(r.type_of);
  release_column(r.cpus);

  for (auto k : r.keep) keep(base + k);
  for (std::size_t i = 0; i < n; ++i) {
    for (auto in = p.inputs_begin(i); in != p.inputs_end(i); ++in) {
      add_hold(*in);
      if (task_of(*in) < base) {
        extra_consumers_[task_of(*in)].push_back(base + i);
        tasks_[task_of(*in)].has_extra_consumers = true;
      }
    }
  }
  // Initial states, in order, so a failed input fails its consumers at once.
  for (std::size_t i = 0; i < n; ++i) {
    TaskId id = base + i;
    TaskRecord& t = tasks_[id];
    std::optional<TaskId> failed_input;
    for (auto in = p.inputs_begin(i); in != p.inputs_end(i); ++in) {
      const TaskRecord& input = tasks_[task_of(*in)];
      if (input.state == TaskState::failed) {
        failed_input = task_of(*in);
      } else if (input.state != TaskState::finished) {
        ++t.unfinished_inputs;
      }
    }
    if (t.state != TaskState::waiting) continue;  // failed by an earlier input in this loop
    if (failed_input) {
      fail_with(id, as_dependent_of(*failed_input));  // as a dependent of the origin does at run time
    } else if (t.unfinished_inputs == 0) {
      // Said plainly for a task without inputs: "its inputs finished" would suggest it had some.
      const bool no_inputs = p.inputs_begin(i) == p.inputs_end(i);
      transition(id, TaskState::ready, no_inputs ? "submitted; it has no inputs" : "submitted with its inputs finished");
    }
  }
  // Tasks whose inputs are old but not finished may need those inputs recomputed.
  for (std::size_t i = 0; i < n; ++i)
    for (auto in = p.inputs_begin(i); in != p.inputs_end(i); ++in)
      if (task_of(*in) < base) require(*in);
  return base;
}

void Scheduler::keep(TaskId id) {
  TaskRecord& t = tasks_[id];
  std::uint32_t& futures = tasks_.details(id).keeps;
  t.kept = true;
  if (!t.multi_output) {
    ++futures;
    ++t.holds;
    return;
  }
  auto& objects = outputs_.at(id);
  if (objects.empty()) {  // nothing to fetch, but the future waits for the task: it must run
    ++futures;
    ++t.holds;
  }
  for (auto& r : objects) {
    ++r.keeps;
    ++r.holds;
    ++futures;
    ++t.holds;
  }
}

void Scheduler::release(ObjectId object) {
  TaskRecord& t = tasks_[task_of(object)];
  if (!t.kept) return;
  if (ObjectRecord* r = object_record(object)) {
    if (r->keeps == 0) return;
    --r->keeps;
  }
  t.kept = --tasks_.details(task_of(object)).keeps > 0;
  drop_hold(object);
}

void Scheduler::add_hold(ObjectId object) {
  ++tasks_[task_of(object)].holds;
  if (ObjectRecord* r = object_record(object)) ++r->holds;
}

void Scheduler::drop_hold(ObjectId object) {
  const TaskId id = task_of(object);
  TaskRecord& t = tasks_[id];
  if (t.holds == 0) return;
  if (ObjectRecord* r = object_record(object)) {
    // One output nobody needs goes now; the task's other outputs stay while they are held.
    if (r->holds > 0 && --r->holds == 0 && t.state == TaskState::finished) free_object(object, *r);
  }
  if (--t.holds > 0) return;
  if (t.state == TaskState::failed) garbage_ = true;  // its plan may be free to go now
  switch (t.state) {
    case TaskState::finished:
      transition(id, TaskState::released, "nobody needs the result");
      break;
    case TaskState::waiting:
    case TaskState::ready:
    case TaskState::assigned:
    case TaskState::running:
    case TaskState::redirected:
      // Cancelling releases its inputs in turn: done by a work list, not recursion,
      // since a cancelled chain can be a million tasks long.
      cancel_queue_.push_back(id);
      if (!draining_cancels_) {
        draining_cancels_ = true;
        while (!cancel_queue_.empty()) {
          TaskId next = cancel_queue_.back();
          cancel_queue_.pop_back();
          const TaskRecord& c = tasks_[next];
          if (c.holds == 0 && c.state != TaskState::finished && c.state != TaskState::failed &&
              c.state != TaskState::released && c.state != TaskState::cancelled)
            transition(next, TaskState::cancelled, "nobody needs it any more");
        }
        draining_cancels_ = false;
      }
      break;
    default:
      break;
  }
}

void Scheduler::fail_with(TaskId id, Failure failure) {
  // Dependents fail with a message naming the task that really failed. A work list, not
  // recursion: a failing chain can be very long.
  const std::string for_dependents =
      failure.origin == id ? "input " + describe(id) + " failed: " + failure.message : failure.message;
  std::vector<TaskId> work{id};
  while (!work.empty()) {
    TaskId next = work.back();
    work.pop_back();
    TaskRecord& t = tasks_[next];
    if (t.state == TaskState::finished || t.state == TaskState::failed || t.state == TaskState::released ||
        t.state == TaskState::cancelled)
      continue;
    failures_[next] = next == id ? failure : Failure{failure.origin, for_dependents, failure.exception};
    transition(next, TaskState::failed, next == failure.origin ? "it failed" : "an input failed");
    for_each_consumer(t, next, [&](TaskId c) { work.push_back(c); });
  }
}

// ---------------------------------------------------------------------------------------------
// Workers

WorkerId Scheduler::add_worker(std::string name, std::string data_address, std::uint32_t cpus,
                               const std::vector<std::string>& types) {
  std::vector<std::uint16_t> offered;  // may throw (a full type table): before anything changes
  for (auto& symbol : types) offered.push_back(intern_type(symbol));
  WorkerInfo& info = workers_.add();
  info.name = std::move(name);
  info.data_address = std::move(data_address);
  info.cpus = std::max<std::uint32_t>(cpus, 1);
  info.free_cpus = info.queue_cpus = static_cast<std::int32_t>(info.cpus);
  info.offers_type.assign(type_names_.size(), false);
  for (auto type : offered) {
    info.offers_type[type] = true;
    type_offers_.offer(info.id, type);
  }
  list_worker(info);
  // After a time without any worker, the grace of the workers that left starts again now.
  if (alive_workers_ == 0)
    for (auto& left : left_) left.second = now_us_;
  ++alive_workers_;
  worker_joined_ = true;
  return info.id;
}

void Scheduler::task_started(WorkerId worker, TaskId id) {
  if (!exists(id)) return;
  TaskRecord& t = tasks_[id];
  if (t.state == TaskState::assigned && t.worker == worker) {
    if (t.cpus) workers_[worker]->cpu_task_moved_us = now_us_;
    transition(id, TaskState::running, "worker started it");
    for (auto* o : observers_) o->on_started(id, worker, now_us_);
  }
}

void Scheduler::task_finished(WorkerId worker, TaskId id, std::uint64_t size, std::uint64_t length,
                              std::int64_t duration_us, std::uint8_t kind) {
  if (!exists(id)) return;
  TaskRecord& t = tasks_[id];
  if ((t.state != TaskState::assigned && t.state != TaskState::running) || t.worker != worker) {
    // A late report of a task that was cancelled or moved: the worker may drop the result.
    if (worker < workers_.size() && workers_[worker]->alive &&
        std::find(t.locations.begin(), t.locations.end(), worker) == t.locations.end())
      actions_.free_data(worker, id);
    return;
  }
  set_result_size(id, t, size);
  set_result_length(id, t, length);
  t.kind = kind;
  if (t.cpus && duration_us >= 0) {
    WorkerInfo& w = *workers_[worker];
    w.cpu_task_moved_us = now_us_;
    w.task_us = w.task_us == 0 ? double(duration_us) : 0.9 * w.task_us + 0.1 * double(duration_us);
    // Queue about 2 ms of work per cpu, so that a worker never idles for a round trip. The
    // queue deepens at most twofold per result (shrinks at once): one tiny task (a constant)
    // must not open a 64-deep queue that then holds a whole map on the first worker to answer.
    double per_cpu = 2000.0 / std::max(w.task_us, 1.0);
    auto wanted = static_cast<std::int32_t>(w.cpus * std::clamp(per_cpu, 1.0, 64.0));
    const auto queue_cpus = std::min(wanted, std::max(2 * w.queue_cpus, static_cast<std::int32_t>(w.cpus)));
    if (queue_cpus != w.queue_cpus) change_load(w, [&] { w.queue_cpus = queue_cpus; });
  }
  transition(id, TaskState::finished, "worker reported the result");
  if (workers_[worker]->retiring) hand_off_outputs(id, worker);  // made while it retires
}

void Scheduler::task_failed(WorkerId worker, TaskId id, const std::string& message,
                            std::shared_ptr<const std::string> exception) {
  if (!exists(id)) return;
  TaskRecord& t = tasks_[id];
  if ((t.state != TaskState::assigned && t.state != TaskState::running) || t.worker != worker) return;
  fail_with(id, Failure{id, message, std::move(exception)});
}

void Scheduler::task_seceded(WorkerId worker, TaskId id, bool seceded) {
  if (!exists(id)) return;
  TaskRecord& t = tasks_[id];
  if ((t.state != TaskState::assigned && t.state != TaskState::running) || t.worker != worker || !t.cpus ||
      t.seceded == seceded)
    return;  // late news of a task that moved on
  t.seceded = seceded;
  WorkerInfo& w = *workers_[worker];
  change_load(w, [&] { w.free_cpus += seceded ? std::int32_t(t.cpus) : -std::int32_t(t.cpus); });
  if (t.state == TaskState::running) w.running_cpus += seceded ? -std::int32_t(t.cpus) : std::int32_t(t.cpus);
}

void Scheduler::data_replicated(WorkerId worker, ObjectId object) {
  const TaskId id = task_of(object);
  if (!exists(id) || worker >= workers_.size() || !workers_.alive(worker)) return;
  TaskRecord& t = tasks_[id];
  ObjectRecord* r = object_record(object);
  if (t.state != TaskState::finished || (t.multi_output && (!r || r->holds == 0))) {
    actions_.free_data(worker, object);
    return;
  }
  auto& where = r ? r->locations : t.locations;
  if (std::find(where.begin(), where.end(), worker) == where.end()) where.push_back(worker);
}

// ---------------------------------------------------------------------------------------------
// Helpers and queries

void Scheduler::for_each_input(TaskId id, const std::function<void(ObjectId)>& fn) const {
  for_each_input_of(id, fn);
}

void Scheduler::unassign(TaskRecord& t) {
  if (t.worker == no_worker) return;
  WorkerInfo& w = *workers_[t.worker];
  if (t.cpus && !t.seceded) change_load(w, [&] { w.free_cpus += t.cpus; });  // a seceded task gave them back already
  else if (!t.cpus) change_load(w, [&] { --w.light_tasks; });
  t.worker = no_worker;
  t.seceded = false;
}

void Scheduler::push_ready(TaskId id) {
  TaskRecord& t = tasks_[id];
  set_parked(t, false);
  const std::int32_t priority = tasks_.details(id).priority;
  if (t.cpus) cpu_ready_.push(id, priority);
  else light_ready_.push(id, priority);
}

std::string_view Scheduler::config(TaskId id) const {
  if (tasks_[id].inputs_overridden) {
    auto it = config_override_.find(id);
    if (it != config_override_.end()) return it->second;
  }
  return tasks_.plan(id).config(local_of(id));
}

Scheduler::InputSpan Scheduler::inputs_of(TaskId id) const {
  const Plan& p = tasks_.plan(id);
  const std::uint32_t local = static_cast<std::uint32_t>(id - p.base);
  const TaskRecord& t = p.records[local];
  if (t.inputs_overridden) {
    const auto& v = input_override_.at(id);
    return {v.data(), v.data() + v.size()};
  }
  if (t.no_inputs) return {nullptr, nullptr};
  return {p.inputs_begin(local), p.inputs_end(local)};
}

std::uint64_t Scheduler::result_size(TaskId id) const {
  const TaskRecord& t = tasks_[id];
  return t.big_size ? tasks_.details(id).size : t.small_size;
}

void Scheduler::set_result_size(TaskId id, TaskRecord& t, std::uint64_t size) {
  t.big_size = size >= std::numeric_limits<std::uint32_t>::max();
  t.small_size = t.big_size ? std::numeric_limits<std::uint32_t>::max() : static_cast<std::uint32_t>(size);
  if (t.big_size) tasks_.details(id).size = size;
}

// Written to the details only when it is not 0 or was not: the end of a task whose result has
// no length (every simulated one) leaves them alone.
void Scheduler::set_result_length(TaskId id, TaskRecord& t, std::uint64_t length) {
  if (length == 0 && !t.has_length) return;
  tasks_.details(id).length = length;
  t.has_length = length != 0;
}

const std::string& Scheduler::label(TaskId id) const {
  return tasks_.plan(id).label(local_of(id));
}

// What a consumer of the failed task `input` fails with. Taken from the input's own record:
// the origin may be in a plan freed long ago.
Failure Scheduler::as_dependent_of(TaskId input) const {
  const Failure& f = failures_.at(input);
  if (f.origin == input) return {input, "input " + describe(input) + " failed: " + f.message, f.exception};
  return f;  // a dependent's message already names its origin
}

const Failure* Scheduler::failure(TaskId id) const {
  auto it = failures_.find(id);
  return it == failures_.end() ? nullptr : &it->second;
}

void Scheduler::set_task_info(TaskId id, std::string info) {
  if (!exists(id)) return;  // cancelled or freed meanwhile
  if (info.empty())
    task_info_.erase(id);
  else
    task_info_[id] = std::move(info);
}

const std::string& Scheduler::task_info(TaskId id) const {
  static const std::string none;
  auto it = task_info_.find(id);
  return it == task_info_.end() ? none : it->second;
}

const WorkerInfo* Scheduler::worker(WorkerId id) const { return id < workers_.size() ? workers_[id] : nullptr; }

std::string Scheduler::describe(TaskId id) const {
  const std::string& l = label(id);
  return "task " + std::to_string(id) + " (" + (l.empty() ? type_names_[tasks_[id].type] : l) + ")";
}

std::size_t Scheduler::memory_estimate() const {
  std::size_t bytes = tasks_.index_bytes();
  for (auto& [id, objects] : outputs_) bytes += 64 + objects.capacity() * sizeof(ObjectRecord);
  for (auto& p : tasks_.plans()) {
    if (!p) continue;
    bytes += sizeof(Plan) + p->records.capacity() * sizeof(TaskRecord) + p->details.capacity() * sizeof(TaskDetails) + p->configs.capacity() + p->config_offsets.capacity() * 4 + p->inputs.capacity() * 8 +
             p->input_offsets.capacity() * 4 + p->consumers.capacity() * 4 + p->consumer_offsets.capacity() * 4 +
             p->label_of.capacity() * 4;
    for (auto& l : p->labels) bytes += sizeof(std::string) + l.capacity();
  }
  return bytes;
}

}  // namespace treadle
