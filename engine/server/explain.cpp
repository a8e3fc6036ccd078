#include "explain.hpp"

#include <algorithm>

#include "scheduler.hpp"

namespace treadle {
namespace {

constexpr int inputs_named = 3;  // a line for people: the first few, then a count

std::string on_worker(const Scheduler& s, WorkerId w) {
  const WorkerInfo* info = s.worker(w);
  return info ? " on " + info->data_address : std::string();
}

// "task 4 (sleep) running on tcp://...": an input and where it stands.
std::string input_line(const Scheduler& s, TaskId in) {
  const TaskRecord& t = s.task(in);
  std::string line = s.describe(in) + " " + state_name(t.state);
  if (t.worker != no_worker) line += on_worker(s, t.worker);
  return line;
}

// Its unfinished inputs, or empty when every input is there.
std::string unfinished_inputs(const Scheduler& s, TaskId id) {
  std::vector<TaskId> missing;
  std::size_t inputs = 0;
  s.for_each_input(id, [&](ObjectId in) {
    ++inputs;
    if (!s.exists(task_of(in)) || !s.has_data(in)) missing.push_back(task_of(in));
  });
  if (missing.empty()) return {};
  std::string out = "waiting for " + std::to_string(missing.size()) + " of its " + std::to_string(inputs) +
                    (inputs == 1 ? " input: " : " inputs: ");
  for (std::size_t i = 0; i < missing.size() && i < inputs_named; ++i) {
    if (i) out += ", ";
    out += s.exists(missing[i]) ? input_line(s, missing[i]) : "task " + std::to_string(missing[i]) + " (freed)";
  }
  if (missing.size() > inputs_named) out += ", and " + std::to_string(missing.size() - inputs_named) + " more";
  return out;
}

}  // namespace

std::string why_no_worker_can_run(const Scheduler& s, const TaskRecord& t) {
  if (s.alive_workers() == 0) return "no workers are connected";
  std::uint32_t largest = 0;
  bool offered = false;
  for (auto& w : s.workers()) {
    if (!w->alive || !w->offers_type[t.type]) continue;
    offered = true;
    largest = std::max(largest, w->cpus);
  }
  if (!offered) return "no connected worker offers its type '" + s.type_name(t.type) + "'";
  if (t.cpus > largest)
    return "it needs " + std::to_string(t.cpus) + " cpus; the largest worker has " + std::to_string(largest);
  return {};
}

namespace {

// A ready task that fits somewhere: every such worker is busy.
std::string busy(const Scheduler& s, const TaskRecord& t) {
  if (t.cpus == 0) {
    for (auto& w : s.workers())
      if (w->alive && !w->retiring && w->offers_type[t.type] && w->light_room())
        return "ready: the next scheduling pass places it";
    return "ready, waiting for room: every worker that can run it has " + std::to_string(light_tasks_per_cpu) +
           " light tasks per cpu sent ahead; more go out as they end";
  }
  const WorkerInfo* most_free = nullptr;
  for (auto& w : s.workers())
    if (w->alive && w->offers_type[t.type] && w->cpus >= t.cpus && (!most_free || w->free_cpus > most_free->free_cpus))
      most_free = w;
  std::string out = "ready, waiting for " + std::to_string(t.cpus) + (t.cpus == 1 ? " free cpu" : " free cpus");
  if (most_free)
    out += ": every worker that can run it is busy (the most free: " + most_free->data_address + ", " +
           std::to_string(std::max(most_free->free_cpus, 0)) + " of " + std::to_string(most_free->cpus) + " free)";
  return out;
}

// A worker that could run it left lately: it waits a while for one that fits (fit_grace.cpp).
std::string waits_for_fit(const Scheduler& s, const TaskRecord& t, std::int64_t deadline_us) {
  bool offered = false;
  for (auto& w : s.workers()) offered = offered || (w->alive && w->offers_type[t.type]);
  std::string what = offered ? "a worker with " + std::to_string(t.cpus) + (t.cpus == 1 ? " cpu" : " cpus")
                             : "a worker that offers its type '" + s.type_name(t.type) + "'";
  const std::int64_t left_s = std::max<std::int64_t>(0, (deadline_us - s.clock() + 999'999) / 1'000'000);
  return "ready, waiting for " + what + " to join: one that could run it left; it fails if none joins within " +
         std::to_string(left_s) + " s";
}

// Sent to a worker that has not started it.
std::string not_started(const Scheduler& s, TaskId id, const TaskRecord& t) {
  const WorkerInfo* w = s.worker(t.worker);
  const std::string where = w ? w->data_address : "a worker";
  std::string inputs = unfinished_inputs(s, id);
  if (!inputs.empty()) return "assigned to " + where + ", where it starts when its inputs are made; " + inputs;
  if (t.cpus == 0) return "sent to " + where + ", which reports it when it ends (light tasks report no start)";
  if (w && w->free_cpus < 0)
    return "queued on " + where + ", which has more cpu tasks than cpus: it starts when " + std::to_string(t.cpus) +
           (t.cpus == 1 ? " cpu" : " cpus") + " there are free";
  return "sent to " + where + ", which has not reported starting it yet";
}

}  // namespace

std::string why_not_running(const Scheduler& s, TaskId id) {
  // Also said of a task whose plan was freed: the server remembers that much of it.
  if (id < s.task_count() && s.state_of(id) == TaskState::cancelled)
    return "it was cancelled before it finished (nobody needed it any more): it will not run";
  if (!s.exists(id)) return {};
  const TaskRecord& t = s.task(id);
  switch (t.state) {
    case TaskState::waiting: {
      std::string out = unfinished_inputs(s, id);
      if (out.empty()) out = "waiting to be queued for placement";
      std::string never = why_no_worker_can_run(s, t);
      if (!never.empty()) out += "; and " + never;
      return out;
    }
    case TaskState::ready: {
      if (t.parked)
        return "ready: a constant held back to run beside its consumer, placed when the consumer's other input is";
      std::string never = why_no_worker_can_run(s, t);
      if (never.empty()) return busy(s, t);
      const std::int64_t deadline = s.fit_deadline_us(t);
      if (deadline < 0) return never;
      return waits_for_fit(s, t, deadline) + " (" + never + ")";
    }
    case TaskState::assigned:
      return not_started(s, id, t);
    case TaskState::redirected: {
      auto target = s.redirect_target(id);
      if (!target || !s.exists(*target)) return "waiting for the plan it returned";
      return "waiting for the plan it returned: its result is " + input_line(s, *target);
    }
    default:
      return {};
  }
}

}  // namespace treadle
