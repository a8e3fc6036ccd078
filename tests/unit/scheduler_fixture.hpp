#pragma once
// Shared helpers for the scheduler unit tests: a PlanRequest builder, a SchedulerActions that
// records every decision instead of sending messages, and an invariant checker that every
// test runs after each step. No sockets anywhere.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/log.hpp"
#include "common/symbols.hpp"
#include "server/scheduler.hpp"

namespace treadle::testing {

inline const std::string const_type{symbols::const_};

// The built-in types, which every worker of these tests offers unless told otherwise.
inline std::vector<std::string> builtin_types(std::vector<std::string> extra = {}) {
  std::vector<std::string> types(std::begin(symbols::builtins), std::end(symbols::builtins));
  types.insert(types.end(), extra.begin(), extra.end());
  return types;
}

// An input naming task `index` of the plan being built (its output `output`).
inline std::uint64_t local(std::uint32_t index, std::uint32_t output = 0) {
  return plan_local_bit | object_id(index, output);
}

// Builds a PlanRequest task by task; inputs are local(i) or global TaskIds of earlier plans.
class PlanBuilder {
 public:
  PlanBuilder() { r_.config_offsets.push_back(0); }

  std::uint32_t add(const std::string& type = const_type, std::vector<std::uint64_t> inputs = {},
                    std::uint32_t cpus = 0, const std::string& label = "", const std::string& config = "") {
    auto index = static_cast<std::uint32_t>(r_.type_of.size());
    r_.type_of.push_back(type_index(type));
    r_.cpus.push_back(cpus);
    r_.input_counts.push_back(static_cast<std::uint32_t>(inputs.size()));
    r_.inputs.insert(r_.inputs.end(), inputs.begin(), inputs.end());
    r_.configs += config;
    r_.config_offsets.push_back(r_.configs.size());
    label_of_.push_back(label_index(label));
    return index;
  }
  PlanBuilder& keep(std::uint32_t index) {
    r_.keep.push_back(index);
    return *this;
  }
  // Task `index` has `count` outputs (labelled out0, out1, ...).
  PlanBuilder& outputs(std::uint32_t index, std::uint32_t count) {
    OutputSpecs specs;
    for (std::uint32_t k = 0; k < count; ++k) {
      specs.labels.push_back("out" + std::to_string(k));
      specs.content_types.emplace_back();
    }
    r_.outputs[index] = std::move(specs);
    return *this;
  }
  std::size_t size() const { return r_.type_of.size(); }

  PlanRequest build() const {
    PlanRequest r = r_;
    if (labels_.size() > 1) {
      r.labels = labels_;
      r.label_of = label_of_;
    }
    return r;
  }

 private:
  std::uint32_t type_index(const std::string& type) {
    auto it = std::find(r_.types.begin(), r_.types.end(), type);
    if (it != r_.types.end()) return static_cast<std::uint32_t>(it - r_.types.begin());
    r_.types.push_back(type);
    return static_cast<std::uint32_t>(r_.types.size() - 1);
  }
  std::uint32_t label_index(const std::string& label) {
    auto it = std::find(labels_.begin(), labels_.end(), label);
    if (it != labels_.end()) return static_cast<std::uint32_t>(it - labels_.begin());
    labels_.push_back(label);
    return static_cast<std::uint32_t>(labels_.size() - 1);
  }

  PlanRequest r_;
  std::vector<std::string> labels_{""};
  std::vector<std::uint32_t> label_of_;
};

// Records every action. Actions addressed to a worker the scheduler already considers dead
// are collected separately: the server could not deliver them.
class RecordingActions : public SchedulerActions {
 public:
  enum class Kind { assign, cancel, free_data, kept_finished, kept_failed, alias, replicate, steal };
  struct Action {
    Kind kind;
    WorkerId worker;  // no_worker for kept_*
    TaskId task;
  };

  const Scheduler* scheduler = nullptr;
  std::vector<Action> log;
  std::vector<Action> to_dead_workers;

  void assign(WorkerId w, TaskId t) override { record(Kind::assign, w, t); }
  void cancel(WorkerId w, TaskId t) override { record(Kind::cancel, w, t); }
  void free_data(WorkerId w, TaskId t) override { record(Kind::free_data, w, t); }
  // Recorded with the redirected task (`to`): the worker answers with alias_held(w, to).
  void alias(WorkerId w, TaskId, TaskId to) override { record(Kind::alias, w, to); }
  // Recorded with the receiving worker: it answers with data_replicated(w, object).
  void replicate(WorkerId w, ObjectId object, WorkerId) override { record(Kind::replicate, w, object); }
  // Recorded with the victim: it answers with tasks_given_back(victim, removed, kept).
  void steal(WorkerId victim, TaskId t) override { record(Kind::steal, victim, t); }
  void kept_finished(TaskId t) override { record(Kind::kept_finished, no_worker, t); }
  void kept_failed(TaskId t) override { record(Kind::kept_failed, no_worker, t); }
  // Apart from `log`: every cancel of a task is told, kept or not (the server's watchers).
  std::vector<TaskId> cancelled_tasks;
  void task_cancelled(TaskId t) override { cancelled_tasks.push_back(t); }
  // Apart from `log` too: the ends of tasks no future holds (inner ones, released ones).
  std::vector<std::pair<TaskId, TaskState>> unkept_ends;
  void unkept_ended(TaskId t, TaskState end) override { unkept_ends.emplace_back(t, end); }

  std::size_t count(Kind kind, TaskId task) const {
    return static_cast<std::size_t>(
        std::count_if(log.begin(), log.end(), [&](const Action& a) { return a.kind == kind && a.task == task; }));
  }
  std::size_t count(Kind kind, WorkerId worker, TaskId task) const {
    return static_cast<std::size_t>(std::count_if(log.begin(), log.end(), [&](const Action& a) {
      return a.kind == kind && a.worker == worker && a.task == task;
    }));
  }
  std::size_t count(Kind kind) const {
    return static_cast<std::size_t>(
        std::count_if(log.begin(), log.end(), [&](const Action& a) { return a.kind == kind; }));
  }
  // The actions recorded after `mark`, a log.size() taken earlier as a bookmark.
  std::vector<Action> since(std::size_t mark) const { return {log.begin() + static_cast<long>(mark), log.end()}; }

 private:
  void record(Kind kind, WorkerId w, TaskId t) {
    Action a{kind, w, t};
    log.push_back(a);
    if (w != no_worker && scheduler) {
      const WorkerInfo* info = scheduler->worker(w);
      if (!info || !info->alive) to_dead_workers.push_back(a);
    }
  }
};

using Kind = RecordingActions::Kind;

inline bool unfinished(TaskState s) {
  return s == TaskState::waiting || s == TaskState::ready || s == TaskState::assigned || s == TaskState::running;
}

// Everything that must hold between any two events; returns a description of the first
// violation, or "" if there is none.
inline std::string invariant_violation(const Scheduler& s) {
  std::ostringstream why;
  const std::size_t n = s.task_count();
  std::uint64_t by_state[task_state_count] = {};
  std::vector<std::uint64_t> expected_holds(n, 0);
  std::vector<std::vector<std::uint64_t>> expected_object_holds(n);  // multi-output tasks, per output
  for (TaskId id = 0; id < n; ++id)
    if (s.exists(id) && s.task(id).multi_output) expected_object_holds[id].assign(s.output_count(id), 0);
  auto has_data = [&](ObjectId in) { return s.has_data(in); };
  auto hold = [&](ObjectId in, std::uint64_t count) {
    expected_holds[task_of(in)] += count;
    if (!expected_object_holds[task_of(in)].empty()) expected_object_holds[task_of(in)][output_of(in)] += count;
  };
  for (TaskId id = 0; id < n; ++id) {
    if (!s.exists(id)) continue;  // its plan was freed (collect_garbage)
    const TaskRecord& t = s.task(id);
    ++by_state[static_cast<int>(t.state)];
    // The record's bit says whether its details count futures (a task's end reads only the bit).
    if (t.kept != (s.details(id).keeps > 0))
      return "task " + std::to_string(id) + "'s kept bit disagrees with its " + std::to_string(s.details(id).keeps) + " futures";
    if (!t.multi_output || s.output_count(id) == 0) expected_holds[id] += s.keeps(id);
    else
      for (std::uint32_t k = 0; k < s.output_count(id); ++k) hold(object_id(id, k), s.object_keeps(object_id(id, k)));
    // A redirected task still holds its inputs, and the root of the plan it returned.
    if (unfinished(t.state) || t.state == TaskState::redirected)
      s.for_each_input(id, [&](ObjectId in) { hold(in, 1); });
    if (auto root = s.redirect_target(id)) {
      if (t.state != TaskState::redirected) return "task " + std::to_string(id) + " has a redirect target but is not redirected";
      ++expected_holds[*root];
    } else if (t.state == TaskState::redirected) {
      return "task " + std::to_string(id) + " is redirected to nothing";
    }
  }
  std::uint64_t sum = 0;
  for (int st = 0; st < task_state_count; ++st) {
    const auto state = static_cast<TaskState>(st);
    sum += s.count(state);
    // Freed tasks were released, cancelled or failed; they stay counted there.
    const bool may_be_freed =
        state == TaskState::released || state == TaskState::cancelled || state == TaskState::failed;
    if (may_be_freed ? s.count(state) < by_state[st] : s.count(state) != by_state[st])
      return std::string("count(") + state_name(state) + ") is " + std::to_string(s.count(state)) + " but " +
             std::to_string(by_state[st]) + " live tasks are in that state";
  }
  if (sum != n) return "counts sum to " + std::to_string(sum) + ", not task_count() " + std::to_string(n);
  // unpark skips every record while the count says none is parked: it must be exact.
  std::size_t parked = 0;
  for (TaskId id = 0; id < n; ++id) {
    if (!s.exists(id) || !s.task(id).parked) continue;
    if (s.task(id).state != TaskState::ready) return "task " + std::to_string(id) + " is parked but not ready";
    ++parked;
  }
  if (parked != s.parked_count())
    return "parked_count() is " + std::to_string(s.parked_count()) + " but " + std::to_string(parked) + " tasks are parked";

  std::vector<std::uint64_t> cpus_used(s.workers().size(), 0), light_used(s.workers().size(), 0);
  std::vector<std::uint64_t> running(s.workers().size(), 0), running_cpus(s.workers().size(), 0), queued(s.workers().size(), 0);
  for (TaskId id = 0; id < n; ++id) {
    if (!s.exists(id)) continue;
    const TaskRecord& t = s.task(id);
    const std::string who = "task " + std::to_string(id) + " (" + state_name(t.state) + ")";
    if (t.holds != expected_holds[id])
      return who + " has holds " + std::to_string(t.holds) + ", expected " + std::to_string(expected_holds[id]);
    for (std::uint32_t k = 0; k < expected_object_holds[id].size(); ++k) {
      const ObjectId o = object_id(id, k);
      const std::string object = "output " + std::to_string(k) + " of " + who;
      if (s.object_holds(o) != expected_object_holds[id][k])
        return object + " has holds " + std::to_string(s.object_holds(o)) + ", expected " +
               std::to_string(expected_object_holds[id][k]);
      for (WorkerId w : s.locations(o))
        if (!s.worker(w) || !s.worker(w)->alive) return object + " is located on a dead worker";
      if (t.state == TaskState::finished && !s.locations(o).empty() && expected_object_holds[id][k] == 0)
        return object + " is kept although nobody needs it";
      if (t.state == TaskState::finished && s.locations(o).empty() && expected_object_holds[id][k] > 0)
        return object + " is needed but held nowhere";
      if ((t.state == TaskState::released || t.state == TaskState::cancelled || t.state == TaskState::failed) &&
          !s.locations(o).empty())
        return object + " still has copies";
    }
    if (t.parked && t.state != TaskState::ready) return who + " is parked but not ready";
    const bool placed = t.state == TaskState::assigned || t.state == TaskState::running;
    if (placed) {
      const WorkerInfo* w = s.worker(t.worker);
      if (!w || !w->alive) return who + " is placed on a missing or dead worker";
      if (!w->offers_type[t.type]) return who + " is placed on a worker that does not offer its type";
      if (!t.cpus) ++light_used[t.worker];
      else if (!t.seceded) cpus_used[t.worker] += t.cpus;  // a seceded task gave its cpus back
      if (t.state == TaskState::running) {
        ++running[t.worker];
        if (!t.seceded) running_cpus[t.worker] += t.cpus;
      } else {
        ++queued[t.worker];
      }
      std::uint32_t missing = 0;
      bool stray = false;
      s.for_each_input(id, [&](ObjectId in) {
        if (has_data(in)) return;
        ++missing;
        const TaskRecord& i = s.task(task_of(in));
        // A chained task waits for inputs computed on its own worker, nowhere else.
        if (!((i.state == TaskState::assigned || i.state == TaskState::running) && i.worker == t.worker))
          stray = true;
      });
      if (stray) {
        std::string inputs;
        s.for_each_input(id, [&](ObjectId in) {
          const TaskRecord& i = s.task(task_of(in));
          inputs += " " + std::to_string(task_of(in)) + "." + std::to_string(output_of(in)) + ":" + state_name(i.state) +
                    (has_data(in) ? "+data" : "");
        });
        return who + " is chained behind an input that is not being computed on its worker (inputs" + inputs + ")";
      }
      if (t.state == TaskState::running && missing) return who + " runs with inputs missing";
      if (t.unfinished_inputs != missing)
        return who + " counts " + std::to_string(t.unfinished_inputs) + " unfinished inputs, really " +
               std::to_string(missing);
    } else if (t.worker != no_worker) {
      return who + " still names a worker";
    }
    if (t.multi_output) {
      if (!t.locations.empty()) return who + " has several outputs but task-level locations";
    } else if (t.state == TaskState::finished) {
      if (t.locations.empty()) return who + " has no location";
      for (WorkerId w : t.locations)
        if (!s.worker(w) || !s.worker(w)->alive) return who + " is located on a dead worker";
      if (t.holds == 0) return who + " is kept although nobody needs it";
    } else if (!t.locations.empty()) {
      return who + " has locations but no result";
    }
    if (t.state == TaskState::waiting || t.state == TaskState::ready) {
      std::uint32_t missing = 0;
      bool failed_input = false;
      s.for_each_input(id, [&](ObjectId in) {
        if (s.task(task_of(in)).state == TaskState::failed) failed_input = true;
        if (!has_data(in)) ++missing;
      });
      if (failed_input) return who + " has a failed input but did not fail";
      if (t.unfinished_inputs != missing)
        return who + " counts " + std::to_string(t.unfinished_inputs) + " unfinished inputs, really " +
               std::to_string(missing);
      if (t.state == TaskState::ready && missing) return who + " is ready with inputs missing";
      if (t.state == TaskState::waiting && !missing) return who + " waits for nothing";
    }
    if (unfinished(t.state)) {
      // Everything an unfinished task needs is there or on its way.
      bool dead_end = false;
      s.for_each_input(id, [&](ObjectId in) {
        const TaskState input = s.exists(task_of(in)) ? s.task(task_of(in)).state : TaskState::released;
        if (input == TaskState::released || input == TaskState::cancelled) dead_end = true;
      });
      if (dead_end) return who + " needs a released or cancelled input that nobody recomputes";
    }
  }
  for (const auto& w : s.workers()) {
    const std::string who = "worker " + std::to_string(w->id);
    // free_cpus may go below zero while cpu tasks wait queued on the worker.
    const auto free_cpus = static_cast<std::int64_t>(w->free_cpus), cpus = static_cast<std::int64_t>(w->cpus);
    if (w->alive) {
      if (free_cpus + static_cast<std::int64_t>(cpus_used[w->id]) != cpus)
        return who + " has " + std::to_string(w->free_cpus) + " free cpus of " + std::to_string(w->cpus) +
               " with " + std::to_string(cpus_used[w->id]) + " in use";
      if (w->light_tasks != light_used[w->id])
        return who + " counts " + std::to_string(w->light_tasks) + " light tasks, really " +
               std::to_string(light_used[w->id]);
      if (w->running_tasks != running[w->id] || w->running_cpus != running_cpus[w->id] ||
          w->queued_tasks != queued[w->id])
        return who + " counts " + std::to_string(w->running_tasks) + " running (" + std::to_string(w->running_cpus) +
               " cpus) and " + std::to_string(w->queued_tasks) + " queued, really " + std::to_string(running[w->id]) +
               " (" + std::to_string(running_cpus[w->id]) + ") and " + std::to_string(queued[w->id]);
    } else if (free_cpus != cpus || w->light_tasks != 0 || w->running_tasks || w->running_cpus || w->queued_tasks) {
      return who + " is dead but its bookkeeping is off: free cpus " + std::to_string(w->free_cpus) + " of " +
             std::to_string(w->cpus) + ", light tasks " + std::to_string(w->light_tasks);
    }
  }
  return "";
}

// Silences the scheduler's warnings ("worker lost") for the fixture's lifetime.
class QuietLog {
 public:
  QuietLog() {
    while (saved_ < log::Level::error && !log::enabled(saved_))
      saved_ = static_cast<log::Level>(static_cast<int>(saved_) + 1);
    log::set_level(log::Level::error);
  }
  ~QuietLog() { log::set_level(saved_); }
  QuietLog(const QuietLog&) = delete;
  QuietLog& operator=(const QuietLog&) = delete;

 private:
  log::Level saved_ = log::Level::debug;
};

// A scheduler wired to recording actions, with shortcuts for what workers would report.
struct SchedulerFixture {
  QuietLog quiet;
  RecordingActions actions;
  Scheduler s{actions};

  SchedulerFixture() { actions.scheduler = &s; }

  WorkerId add_worker(std::uint32_t cpus = 1, std::vector<std::string> extra_types = {}) {
    WorkerId id = static_cast<WorkerId>(s.workers().size());
    return s.add_worker("w" + std::to_string(id), "tcp://w" + std::to_string(id) + ":1", cpus,
                        builtin_types(std::move(extra_types)));
  }
  TaskId submit(const PlanBuilder& plan, ClientId client = 1) { return s.submit(client, plan.build()); }

  TaskState state(TaskId id) const { return s.task(id).state; }
  WorkerId worker_of(TaskId id) const { return s.task(id).worker; }

  void start(TaskId id) { s.task_started(s.task(id).worker, id); }
  // Reports each output first for a task with other than one output, as a worker does.
  void finish(TaskId id, std::uint64_t size = 1) {
    if (s.task(id).multi_output)
      for (std::uint32_t k = 0; k < s.output_count(id); ++k) s.output_made(s.task(id).worker, object_id(id, k), size, 0, 0);
    s.task_finished(s.task(id).worker, id, size, 1);
  }
  void fail(TaskId id, const std::string& message) { s.task_failed(s.task(id).worker, id, message); }

  // True if every input of a placed task is there, i.e. its worker could run it now.
  bool runnable(TaskId id) const {
    bool ok = true;
    s.for_each_input(id, [&](ObjectId in) {
      if (s.task(task_of(in)).state != TaskState::finished) ok = false;
    });
    return ok;
  }

  // Plays the workers: schedule, then finish every placed task that can run, until
  // nothing moves. Returns the number of tasks finished.
  std::size_t run_all(std::uint64_t size = 1) {
    std::size_t done = 0;
    for (bool progress = true; progress;) {
      progress = false;
      s.schedule();
      for (TaskId id = 0; id < s.task_count(); ++id) {
        if (!s.exists(id)) continue;  // its plan was freed
        TaskState st = state(id);
        if ((st == TaskState::assigned || st == TaskState::running) && runnable(id)) {
          finish(id, size);
          ++done;
          progress = true;
        }
      }
    }
    return done;
  }

  // The (from, to, reason) steps of a task, oldest first.
  std::vector<std::string> story(TaskId id) const {
    std::vector<std::string> out;
    for (auto& e : s.story(id))
      out.push_back(std::string(state_name(e.from)) + "->" + state_name(e.to) + ": " + e.reason);
    return out;
  }

  // Run after every interesting step: the scheduler's books balance and no action went to
  // a dead worker.
  void check() const {
    INFO(invariant_violation(s));
    CHECK(invariant_violation(s).empty());
    CHECK(actions.to_dead_workers.empty());
  }
};

}  // namespace treadle::testing
