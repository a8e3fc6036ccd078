#pragma once
// The scheduler: plans in, placements out. No sockets here: events are method calls, and
// decisions go to a SchedulerActions, so every transition is unit-tested without a network.
//
// Cost per decision does not grow with the ready set: ready tasks wait in two queues
// (light and cpu-requesting) ordered by priority, and placing one looks only at the
// workers holding its inputs and at the worker list.
#include <cstdint>
#include <algorithm>
#include <array>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "plan.hpp"
#include "queued_tasks.hpp"
#include "ready_queue.hpp"
#include "scheduler_actions.hpp"
#include "scheduler_observer.hpp"
#include "task_record.hpp"
#include "task_table.hpp"
#include "transition_log.hpp"
#include "type_offers.hpp"
#include "worker_index.hpp"
#include "worker_info.hpp"
#include "worker_table.hpp"

namespace treadle {

// A plan the server refuses; the message is for the user.
struct PlanError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Failure {
  Failure() = default;
  Failure(TaskId origin, std::string message, std::shared_ptr<const std::string> exception = nullptr)
      : origin(origin), message(std::move(message)), exception(std::move(exception)) {}
  TaskId origin = 0;    // the task whose own run failed
  std::string message;  // for dependents: "input task N (label) failed: ..."
  // A Python task's exception, packed by its executor (null: none); shared with dependents.
  std::shared_ptr<const std::string> exception;
};

class Scheduler {
 public:
  // `transition_log_capacity`: how many recent transitions story() can tell (tests make it small).
  explicit Scheduler(SchedulerActions& actions, std::size_t transition_log_capacity = 100000);
  ~Scheduler();

  // -- task types --------------------------------------------------------------------------
  std::uint16_t intern_type(const std::string& symbol);
  const std::string& type_name(std::uint16_t type) const { return type_names_[type]; }
  // A type is known if a connected worker offers it or it is a built-in.
  bool type_known(std::uint16_t type) const;

  // -- clients -----------------------------------------------------------------------------
  // Validates and adds a plan; returns the id of its first task. Throws PlanError.
  TaskId submit(ClientId client, PlanRequest&& request);
  // A client future on every output of `task` (on the task itself when it has none).
  void keep(TaskId task);
  // Drops one client future on an object (a task's id names its first output); an object
  // nobody needs is freed, a task none of whose outputs anyone needs is cancelled.
  void release(ObjectId object);
  // Checkpoints (checkpoints.cpp), right after submit() returned `base`: a task whose file
  // exists loads it instead of running (its inputs lose it as a consumer); the others write
  // their result there (checkpoint_to_write: the file, or nullptr).
  void use_checkpoints(TaskId base, const std::vector<PlanCheckpoint>& checkpoints);
  const std::string* checkpoint_to_write(TaskId id) const;

  // -- workers -----------------------------------------------------------------------------
  WorkerId add_worker(std::string name, std::string data_address, std::uint32_t cpus,
                      const std::vector<std::string>& types);
  void remove_worker(WorkerId worker, const char* reason);
  // -- retiring: a worker leaving on purpose (retiring.cpp) ----------------------------------
  // Nothing new is placed on `worker`; its queued tasks are placed again; the objects still
  // needed that only it holds are copied to other workers (SchedulerActions::replicate), and
  // so are those its running tasks make. False: no such live worker.
  bool retire_worker(WorkerId worker);
  // A retiring worker may be told to stop: nothing runs there and every object still needed has
  // a copy elsewhere, or the copies took longer than `handoff_timeout_us` (what is left is
  // recomputed, as for a lost worker). Copies whose target left are asked of another worker.
  bool retire_done(WorkerId worker, std::int64_t handoff_timeout_us = 30'000'000);
  // How many objects a retiring worker still has to hand off (for status and tests).
  std::size_t handoffs_pending(WorkerId worker) const;

  // -- reports from workers ------------------------------------------------------------------
  void task_started(WorkerId worker, TaskId task);
  // Output `object` of a task with other than one output was made (reported before the task).
  void output_made(WorkerId worker, ObjectId object, std::uint64_t size, std::uint64_t length, std::uint8_t kind);
  // `kind`: the result's DataKind, | 0x80 if dslice/dget can cut it (FinishedBatch::kinds).
  void task_finished(WorkerId worker, TaskId task, std::uint64_t size, std::uint64_t length,
                     std::int64_t duration_us = -1, std::uint8_t kind = 0);
  void task_failed(WorkerId worker, TaskId task, const std::string& message,
                   std::shared_ptr<const std::string> exception = nullptr);
  void data_replicated(WorkerId worker, ObjectId object);
  // `worker` now holds a redirected task's result under the task's own id (it was asked to
  // with SchedulerActions::alias): the task finishes there.
  void alias_held(WorkerId worker, TaskId task);
  // A running task waits on tasks it submitted and gives its cpus back (`seceded`), or its
  // wait ended and it takes them again (docs/architecture.md, "Tasks that submit tasks").
  void task_seceded(WorkerId worker, TaskId task, bool seceded);
  // A Python task returned a Task: `plan` (whose inputs may name the task's own inputs with
  // redirect_input_bit | position) runs in its place. Throws PlanError if the plan is bad.
  void redirect(WorkerId worker, TaskId task, PlanRequest&& plan);
  // -- work stealing (stealing.cpp) ------------------------------------------------------------
  // `worker` answered a steal (SchedulerActions::steal): it removed `given_back` from its queue
  // (not started there: they are placed again, on the idle worker they were asked for if it
  // still fits) and kept `kept` (started, ended, or unknown there: they stay where they are).
  void tasks_given_back(WorkerId worker, const std::vector<TaskId>& given_back, const std::vector<TaskId>& kept);
  // Steals asked and not yet answered (for tests and status).
  std::size_t steals_pending() const { return steals_.size(); }
  // On by default; off, no steal is asked (the simulator compares both).
  void set_work_stealing(bool on) { stealing_ = on; }

  // Places ready tasks on workers; call after a batch of events.
  void schedule();
  // -- a cluster that shrank (fit_grace.cpp) -------------------------------------------------
  // A ready task no connected worker can run fails at once, unless a worker that could run it
  // left less than `grace_us` ago: then it waits that long for one that fits to join (a
  // restarted worker, a replacement) before it fails (docs/architecture.md, "Placement").
  void set_worker_grace_us(std::int64_t grace_us) { worker_grace_us_ = grace_us; }
  std::int64_t worker_grace_us() const { return worker_grace_us_; }
  // When such a task stops waiting and fails (scheduler clock, µs), or -1: it fails at once.
  std::int64_t fit_deadline_us(const TaskRecord& t) const;

  // -- observing -----------------------------------------------------------------------------
  // Observers hear of ready tasks and placements (docs/tracing.md); not owned.
  void add_observer(SchedulerObserver* observer) { observers_.push_back(observer); }
  // The time events from now on happen at (µs; the server sets its wall clock per message).
  // The scheduler reads no clock itself, so tests control time.
  void set_clock(std::int64_t now_us) { now_us_ = now_us; }
  std::int64_t clock() const { return now_us_; }

  // -- queries -------------------------------------------------------------------------------
  bool exists(TaskId task) const { return tasks_.live(task); }
  // The state of any task given out so far (id < task_count()), also of one whose plan was
  // freed: then released, or cancelled if it was cancelled (the table remembers that).
  TaskState state_of(TaskId task) const {
    if (exists(task)) return tasks_[task].state;
    return tasks_.freed_cancelled(task) ? TaskState::cancelled : TaskState::released;
  }
  const TaskRecord& task(TaskId id) const { return tasks_[id]; }
  // What reports and placement do not read of a task (priority, futures, when it became ready).
  const TaskDetails& details(TaskId id) const { return tasks_.details(id); }
  // Its result's size (TaskRecord keeps it only when it is under 4 GiB - 1).
  std::uint64_t result_size(TaskId id) const;
  std::uint64_t result_length(TaskId id) const { return tasks_[id].has_length ? tasks_.details(id).length : 0; }
  // How many client futures keep its result.
  std::uint32_t keeps(TaskId id) const { return tasks_[id].kept ? tasks_.details(id).keeps : 0; }
  const Plan& plan_of(TaskId id) const { return tasks_.plan(id); }
  // -- objects (objects.cpp): output k of task t is object_id(t, k) -------------------------
  std::uint32_t output_count(TaskId id) const;
  // Output labels and content types as submitted, or nullptr (one unnamed output).
  const OutputSpecs* output_specs(TaskId id) const { return plan_of(id).output_specs(local_of(id)); }
  // A live task's existing output (not output 0 of a task that has none).
  bool object_exists(ObjectId object) const;
  const WorkerSet& locations(ObjectId object) const;
  std::uint64_t object_size(ObjectId object) const;
  std::uint32_t object_keeps(ObjectId object) const;
  std::uint32_t object_holds(ObjectId object) const;
  // Finished and held by some worker.
  bool has_data(ObjectId object) const;
  bool object_at(ObjectId object, WorkerId worker) const;
  std::string_view config(TaskId id) const;
  const std::string& label(TaskId id) const;
  // The task's input objects, in order.
  void for_each_input(TaskId id, const std::function<void(ObjectId)>& fn) const;
  const Failure* failure(TaskId id) const;
  // What a live task recorded about itself while it ran (JSON text; a rerun replaces it), kept
  // until its plan is freed; "" if nothing.
  void set_task_info(TaskId id, std::string info);
  const std::string& task_info(TaskId id) const;
  const WorkerInfo* worker(WorkerId id) const;
  const WorkerTable& workers() const { return workers_; }
  std::size_t alive_workers() const { return alive_workers_; }
  std::vector<TransitionEntry> story(TaskId id) const { return log_.story(id); }
  const TransitionLog& transition_log() const { return log_; }
  // When the plan holding `id` was submitted (scheduler clock); -1 once its plan was freed.
  std::int64_t submitted_us(TaskId id) const { return exists(id) ? plan_of(id).submitted_us : -1; }
  // The root of the plan a redirected task returned, while the task waits for it.
  std::optional<TaskId> redirect_target(TaskId id) const {
    auto it = redirect_target_.find(id);
    return it == redirect_target_.end() ? std::nullopt : std::optional<TaskId>(it->second);
  }
  std::uint64_t count(TaskState state) const { return counts_[static_cast<int>(state)]; }
  // Tasks cancelled so far (nobody needed them before they finished), ever.
  std::uint64_t cancelled_count() const { return cancelled_; }
  std::size_t task_count() const { return tasks_.next_id(); }
  std::size_t parked_count() const { return parked_tasks_; }  // tasks parked now (beside_consumer.cpp)
  std::size_t live_plans() const;
  // Frees plans nobody can need again: every task released (or failed) and unheld, and every
  // consumer in a freed plan, so no recomputation can reach them. Cheap when nothing changed.
  // Returns how many tasks the freed plans held.
  std::size_t collect_garbage();
  std::size_t memory_estimate() const;
  // Human-readable name for messages: "task 12 (label)" or "task 12 (loom/run/run)".
  std::string describe(TaskId id) const;

 private:
  // --- the state machine (transitions.cpp) ---
  using TransitionFn = void (Scheduler::*)(TaskId, TaskRecord&);
  // `worker`: the worker involved when it is not the task's own (a lost copy's); `placement`: why
  // there, for a placement. Both are kept in the transition log for the task's story.
  void transition(TaskId id, TaskState to, const char* reason, WorkerId worker = no_worker,
                  std::uint8_t placement = no_placement);
  void to_ready(TaskId, TaskRecord&);
  void to_assigned(TaskId, TaskRecord&);
  void to_running(TaskId, TaskRecord&);
  void count_on_worker(const TaskRecord& t, TaskState state, int delta);
  void to_finished(TaskId, TaskRecord&);
  void to_failed(TaskId, TaskRecord&);
  void finished_to_released(TaskId, TaskRecord&);
  void to_cancelled(TaskId, TaskRecord&);
  void to_redirected(TaskId, TaskRecord&);
  void unchain_consumers(TaskId first, WorkerId worker,
                         const char* reason = "its input was redirected: placed again when the input's plan finishes");
  void redirect_finished(TaskId, TaskRecord&);
  void finished_effects(TaskId, TaskRecord&);
  void drop_redirect_target(TaskId id);
  void request_alias(TaskId id);
  void back_to_waiting(TaskId, TaskRecord&);
  void given_back(TaskId, TaskRecord&);
  using TransitionTable = std::array<std::array<TransitionFn, task_state_count>, task_state_count>;
  static const TransitionTable& table();

  // --- helpers ---
  struct InputSpan {
    const TaskId* first;
    const TaskId* last;
    const TaskId* begin() const { return first; }
    const TaskId* end() const { return last; }
    std::size_t size() const { return static_cast<std::size_t>(last - first); }
  };
  // A task's inputs: from its plan, or as a dynamic expansion rewrote them.
  InputSpan inputs_of(TaskId id) const;
  // Its index within its plan (records live in their plan: TaskTable).
  std::uint32_t local_of(TaskId id) const { return static_cast<std::uint32_t>(id - tasks_.plan(id).base); }
  void set_result_size(TaskId id, TaskRecord& t, std::uint64_t size);
  void set_result_length(TaskId id, TaskRecord& t, std::uint64_t length);
  template <typename Fn> void for_each_consumer(const TaskRecord& t, TaskId id, Fn&& fn) const;
  template <typename Fn> void for_each_input_of(TaskId id, Fn&& fn) const;
  void unassign(TaskRecord& t);
  void drop_hold(ObjectId object);
  void add_hold(ObjectId object);
  // -- objects of multi-output tasks (objects.cpp) --
  ObjectRecord* object_record(ObjectId object);
  const ObjectRecord* object_record(ObjectId object) const;
  void free_object(ObjectId object, ObjectRecord& r);
  void free_unheld_outputs(TaskId id);     // after it finished: outputs nobody needs go
  void free_all_outputs(TaskId id);        // it is released
  void outputs_made_at(TaskId id, WorkerId worker);
  // Removes `worker` from its objects' locations; true if an output still needed has no copy left.
  bool outputs_lost_with(TaskId id, WorkerId worker, bool& lost_a_copy);
  // Fails `id` (with its own failure when failure.origin == id, else with a dependent's) and
  // everything that depends on it.
  void fail_with(TaskId id, Failure failure);
  Failure as_dependent_of(TaskId failed_input) const;
  void make_ready_or_wait(TaskId id, const char* reason);
  void push_ready(TaskId id);

  // --- placement (placement.cpp) ---
  static constexpr TaskId no_task = ~TaskId{0};
  struct Choice {
    WorkerId worker = no_worker;
    Placement reason = Placement::least_loaded;
    bool queued = false;
    std::uint64_t local_bytes = 0, input_bytes = 0;
    WorkerId from = no_worker;  // stolen: the worker that gave it back
    bool park = false;          // a constant held back until its consumer's other input is placed
    TaskId fan_in = no_task;    // a constant of this many-input consumer: its siblings follow it
  };
  Choice choose_worker(TaskId id, const TaskRecord& t);
  // When a cpu task would start on `w` (µs from now), as placement estimates it: the wait behind
  // `cpus_ahead` queued cpus there (its recent task duration per cpu) plus the fetch of the
  // `missing` input bytes it lacks there (about 1 GB/s). Placement and stealing share it.
  double expected_start_us(const WorkerInfo& w, std::int32_t cpus_ahead, std::uint64_t missing) const;
  WorkerId soonest_start(const TaskRecord& t, const std::vector<std::pair<WorkerId, std::uint64_t>>& bytes_on,
                         std::uint64_t input_bytes, WorkerId local) const;
  bool fits(WorkerId w, const TaskRecord& t, bool queued = true) const;

  // The least busy live worker that fits (worker_index.hpp).
  WorkerId least_busy(const TaskRecord& t, bool queued) const;
  // Placement may choose it from now on (it joined), or no more (retiring, gone).
  void list_worker(const WorkerInfo& w);
  void unlist_worker(const WorkerInfo& w);
  // Changes a live worker's load (free_cpus, light_tasks, queue_cpus) and keeps the index in order.
  template <typename Change> void change_load(WorkerInfo& w, Change&& change) {
    const WorkerIndex::Load before = WorkerIndex::load_of(w);
    change();
    load_index_.update(before, w);  // listed workers only: live, not retiring
  }
  bool runnable_somewhere(const TaskRecord& t) const;
  // A task no connected worker can run: out of the ready queue until a worker joins or its
  // grace ends (true), or it has none and fails now (false).
  bool wait_for_fit(TaskId id, const TaskRecord& t);
  void requeue_unfit();  // back to the ready queues, to be placed, wait again or fail
  std::vector<std::pair<WorkerId, std::int64_t>> left_;  // workers that left within the grace, and when
  std::vector<TaskId> unfit_;                            // ready tasks waiting for a worker that fits
  std::int64_t unfit_due_us_ = std::numeric_limits<std::int64_t>::max();  // the first of their deadlines
  bool worker_joined_ = false;
  std::int64_t worker_grace_us_ = 30'000'000;
  void place(TaskId id, const Choice& choice);
  void notify_assigned(TaskId id, const TaskRecord& t, const Choice& choice);
  void chain_consumers(TaskId id, WorkerId worker);

  // --- constants beside their consumer (beside_consumer.cpp) ---
  // A constant (const, py_value: light, no inputs) that only one unfinished consumer holds runs
  // where that consumer will run: moving it costs more than making it.
  bool lone_constant(TaskId id, const TaskRecord& t) const;
  struct Beside {
    WorkerId worker = no_worker;  // where the consumer's other inputs are (or its siblings went)
    bool park = false;            // nowhere yet, but an input of the consumer will be placed
    TaskId fan_in = no_task;      // the consumer, when it has too many inputs to scan
  };
  Beside beside_consumer(TaskId id, const TaskRecord& t) const;
  // Chaining `consumer` to `worker`: an input that is a lone constant, ready, comes along.
  bool comes_along(TaskId id, const TaskRecord& input) const {
    return input.state == TaskState::ready && lone_constant(id, input);
  }
  // Assigns the consumer's inputs that come along to `worker`; false if one did not fit there.
  bool bring_constants(InputSpan inputs, WorkerId worker);
  // Parked inputs go back to the ready queue: their consumer was placed elsewhere, or ended.
  void unpark(TaskId input);
  // Parks or unparks a ready task, keeping parked_tasks_ exact.
  void set_parked(TaskRecord& t, bool parked) {
    if (t.parked == parked) return;
    t.parked = parked;
    if (parked) ++parked_tasks_;
    else --parked_tasks_;
  }
  struct FanIn {
    TaskId consumer = no_task;
    WorkerId worker = no_worker;
  };
  FanIn fan_in_;  // where the last constant of a many-input consumer went
  std::uint16_t const_type_ = 0, py_value_type_ = 0;

  // --- dynamic slice and get (dynamic.cpp) ---
  bool is_dynamic(const TaskRecord& t) const;
  void expand(TaskId id);

  // --- work stealing (stealing.cpp) ---
  // A worker with cpus free takes queued tasks from a worker whose queue makes them wait
  // longer than the move costs. The victim is asked (SchedulerActions::steal) and answers with
  // what it really removed (tasks_given_back); until then the tasks stay its own.
  struct Steal {
    WorkerId victim, thief;
    std::int32_t cpus;
  };
  void note_assigned(TaskId id, const TaskRecord& t);  // keeps each worker's recent cpu tasks
  void steal_for_idle_workers();
  bool steal_from(WorkerId victim);  // false: no idle worker is left
  WorkerId idle_thief(WorkerId victim, const TaskRecord& t) const;
  void settle_steal(TaskId id);
  void forget_steals_of(WorkerId worker);  // it left: its steals are settled (recovery re-places its tasks)
  std::unordered_map<TaskId, Steal> steals_;      // asked, not answered
  std::vector<std::int32_t> steal_incoming_;      // per worker: cpus asked for it, not yet given back
  // Those cpus count as taken for placement (fits): a task placed on the thief meanwhile would
  // arrive first, and the stolen one would wait behind it there.
  std::int32_t cpus_promised(WorkerId w) const { return w < steal_incoming_.size() ? steal_incoming_[w] : 0; }
  std::vector<std::int32_t> steal_outgoing_;      // per worker: cpus asked of it, not yet answered
  // Per worker, the entries of its recent cpu task assignments (queued_tasks.hpp; their count is
  // WorkerInfo::recent_cpu_tasks): a ring, not touched when a task leaves `assigned`; stealing
  // checks each entry's state.
  QueuedTaskRings cpu_task_rings_;
  bool stealing_ = true;

  // --- retiring (retiring.cpp) ---
  struct Handoff {
    ObjectId object;
    WorkerId to;
  };
  struct Retiring {
    std::int64_t since_us = 0;
    std::vector<Handoff> pending;
  };
  // Copies `object` from the retiring `from` to another worker if it is still needed and only there.
  void hand_off(WorkerId from, ObjectId object, Retiring& r);
  void hand_off_outputs(TaskId id, WorkerId from);
  bool handoff_needed(ObjectId object, WorkerId from) const;
  WorkerId handoff_target(WorkerId from) const;
  std::unordered_map<WorkerId, Retiring> retiring_;

  // --- recovery (recovery.cpp) ---
  void lose_data(TaskId id, WorkerId worker);
  void send_consumers_back(TaskId id, const char* reason, WorkerId worker, std::vector<TaskId>& sent_back,
                           std::vector<TaskId>& recount);
  void unchain_sent_back(std::vector<TaskId>& sent_back, std::vector<TaskId>& recount);
  // It will be placed again because a worker was lost (the one being removed now, if any).
  void mark_rerun(TaskId id, TaskRecord& t);
  void forget_rerun(TaskId id, const TaskRecord& t) {
    if (t.rerun && !lost_before_.empty()) lost_before_.erase(id);
  }
  void require(ObjectId object);  // make sure a result exists or will be computed

  SchedulerActions& actions_;
  TaskTable tasks_;
  bool garbage_ = false;  // some plan became fully settled since the last collection
  std::unordered_map<TaskId, std::vector<TaskId>> extra_consumers_;
  std::unordered_map<TaskId, Failure> failures_;
  std::unordered_map<TaskId, std::string> task_info_;  // only of tasks that recorded some
  std::unordered_map<TaskId, TaskId> redirect_target_;  // redirected task -> root of its plan
  std::unordered_map<TaskId, std::vector<TaskId>> input_override_;  // see dynamic.cpp
  std::unordered_map<TaskId, std::string> config_override_;
  std::unordered_map<TaskId, std::string> checkpoint_writes_;  // see checkpoints.cpp
  std::unordered_map<TaskId, std::vector<ObjectRecord>> outputs_;  // multi-output tasks' objects
  WorkerTable workers_;
  WorkerIndex load_index_;  // the workers placement may choose (live, not retiring) by load
  TypeOffers type_offers_;  // which workers offer each type (for placement)
  std::size_t alive_workers_ = 0;
  std::vector<std::string> type_names_;
  std::unordered_map<std::string, std::uint16_t> type_ids_;
  std::vector<bool> builtin_type_;

  ReadyQueue light_ready_;
  ReadyQueue cpu_ready_;

  std::vector<TaskId> cancel_queue_;
  bool draining_cancels_ = false;
  // Tasks to be placed again because a worker was lost -> that worker, until their next
  // placement says so (Decision::lost_worker) or they end: worker losses are rare, so a map,
  // not a field of every task. losing_: the worker remove_worker is removing now.
  std::unordered_map<TaskId, WorkerId> lost_before_;
  WorkerId losing_ = no_worker;
  std::uint64_t counts_[task_state_count] = {};
  std::uint64_t cancelled_ = 0;  // tasks cancelled, ever (cancelled_count)
  // Tasks parked now (beside_consumer.cpp). While none is, unpark reads no record: a consumer's
  // end and a failed chaining would otherwise touch every input's record, ~1 cache miss per
  // task on a tree at 10,000 simulated workers (bench/README.md, "The tree at 10,000 workers").
  std::size_t parked_tasks_ = 0;
  TransitionLog log_;
  std::vector<SchedulerObserver*> observers_;
  std::int64_t now_us_ = 0;
};

// Small iteration helpers, here so every part of the scheduler can inline them.
template <typename Fn>
inline void Scheduler::for_each_consumer(const TaskRecord& t, TaskId id, Fn&& fn) const {
  const Plan& p = tasks_.plan(id);
  // A consumer whose inputs an expansion rewrote may no longer use this task.
  auto still_uses = [&](TaskId c) {
    if (!tasks_[c].inputs_overridden) return true;
    auto span = inputs_of(c);
    return std::find_if(span.begin(), span.end(), [&](ObjectId in) { return task_of(in) == id; }) != span.end();
  };
  const std::uint32_t local = static_cast<std::uint32_t>(id - p.base);
  if (!t.no_consumers)
    for (auto c = p.consumers_begin(local); c != p.consumers_end(local); ++c)
      if (still_uses(p.base + *c)) fn(p.base + *c);
  if (t.has_extra_consumers) {
    auto it = extra_consumers_.find(id);
    if (it != extra_consumers_.end())
      for (TaskId c : std::vector<TaskId>(it->second))
        if (still_uses(c)) fn(c);
  }
}

// The input objects (ObjectIds: task_of() names the producing task).
template <typename Fn>
inline void Scheduler::for_each_input_of(TaskId id, Fn&& fn) const {
  for (ObjectId in : inputs_of(id)) fn(in);
}

}  // namespace treadle
