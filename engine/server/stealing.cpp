// Work stealing: a worker with cpus free takes tasks queued on a busy worker.
//
// Placement queues cpu tasks on workers (docs/architecture.md, "Queue depth"), and estimates
// from recent durations go wrong: a long task holds its cpu while the tasks queued behind it
// wait, or a worker joins (or its executors come up) after the others took the map. After each
// pass, an idle worker takes the newest tasks of the busiest queues when it would start them
// sooner than the victim, counting the move (a round trip to the victim, then the compute
// message) and the inputs it lacks, with placement's own estimate (expected_start_us); a
// victim whose queue has not moved for longer than that waits at least as long again (a long
// task holds it, whatever its recent tasks took). A task moves once at most.
// Until the victim answers, the thief's cpus are promised: placement counts them as taken
// (fits), so a task made ready meanwhile goes elsewhere instead of ahead of the stolen one.
//
// The move is race-free: the scheduler cannot know whether a queued task has started (its
// `started` report may be on its way), so it asks the victim (SchedulerActions::steal), which
// removes the tasks it has not started and answers with them (tasks_given_back). Only those
// are placed again; until the answer the tasks stay the victim's, and those it kept run there.
#include <algorithm>

#include "scheduler.hpp"

namespace treadle {

namespace {
// What a move costs before the task can start on the thief: the steal to the victim, its answer
// and the compute message, about three messages; generous, so a move must clearly pay.
constexpr double steal_cost_us = 1000.0;
constexpr int steal_scan_limit = 64;  // queued tasks looked at per victim and pass
static_assert(steal_scan_limit <= int(queued_tasks_scanned), "the rings store what a pass looks at");
constexpr int steal_pass_misses = 8;  // victims with nothing worth moving before a pass gives up
}  // namespace

void Scheduler::note_assigned(TaskId id, const TaskRecord& t) {
  if (cpu_task_rings_.workers() <= t.worker) cpu_task_rings_.reserve(workers_.size());
  WorkerInfo& w = *workers_[t.worker];
  // Twice the cpus' worth it may have assigned (queued_tasks.hpp).
  w.recent_cpu_tasks.push(cpu_task_rings_.of(t.worker), id,
                          2 * (std::size_t{w.cpus} + std::size_t(std::max(w.queue_cpus, 0))));
}

// An idle worker (a cpu free now) with room for `t`, the tasks asked for it counted (fits does):
// like any worker it may queue a little behind its cpus, so it never idles for a round trip.
WorkerId Scheduler::idle_thief(WorkerId victim, const TaskRecord& t) const {
  return load_index_.least_busy(t.cpus, 1, [&](WorkerId id) { return id != victim && fits(id, t, true); });
}

void Scheduler::steal_for_idle_workers() {
  if (!stealing_ || alive_workers_ < 2) return;
  // No worker with a cpu free: nothing to do (one step of the index).
  if (load_index_.least_busy(1, 1, [](WorkerId) { return true; }) == no_worker) return;
  if (steal_incoming_.size() < workers_.size()) {
    steal_incoming_.resize(workers_.size(), 0);
    steal_outgoing_.resize(workers_.size(), 0);
    cpu_task_rings_.reserve(workers_.size());
  }
  int misses = 0;
  // The busiest queues first: workers with tasks queued beyond their cpus.
  load_index_.busiest(0, [&](WorkerId victim) {
    const std::size_t asked = steals_.size();
    if (!steal_from(victim)) return true;  // no idle worker left
    return steals_.size() == asked && ++misses >= steal_pass_misses;
  });
}

bool Scheduler::steal_from(WorkerId victim) {
  const WorkerInfo& v = *workers_[victim];
  if (v.retiring) return true;  // its queue is being sent elsewhere already
  const QueuedTasks& queue = v.recent_cpu_tasks;
  if (queue.size() == 0) return true;  // no cpu task was ever assigned there
  const TaskId* ring = cpu_task_rings_.of(victim);
  int scanned = 0;
  // Newest first: they wait longest there. Entries of tasks that left (started, ended, moved)
  // are skipped by their state.
  for (std::size_t k = 0; k < queue.size() && scanned < steal_scan_limit; ++k, ++scanned) {
    const TaskId id = queue.newest(ring, k);
    if (!tasks_.live(id)) continue;
    const TaskRecord& t = tasks_[id];
    if (t.state != TaskState::assigned || t.worker != victim || t.unfinished_inputs || t.seceded || t.stolen ||
        steals_.count(id))
      continue;
    bool chained_behind = false;  // consumers wait for it there: it stays with them
    for_each_consumer(t, id, [&](TaskId c) {
      chained_behind |= tasks_[c].state == TaskState::assigned && tasks_[c].worker == victim;
    });
    if (chained_behind) continue;
    // The cpus queued there ahead of it (the newer ones asked away already behind it).
    const std::int32_t ahead = -v.free_cpus - steal_outgoing_[victim];
    if (ahead <= 0) return true;  // the rest start as soon as a cpu there is free
    const WorkerId thief = idle_thief(victim, t);
    if (thief == no_worker) return false;
    std::uint64_t missing = 0;
    for_each_input_of(id, [&](ObjectId in) {
      if (!object_at(in, thief)) missing += object_size(in);
    });
    // Its inputs are there (or on their way). A queue that has not moved for longer than the
    // estimate is held by a long task: the wait there is counted as at least that long again.
    double on_victim = expected_start_us(v, ahead, 0);
    if (v.cpu_task_moved_us) on_victim = std::max(on_victim, double(now_us_ - v.cpu_task_moved_us));
    const WorkerInfo& w = *workers_[thief];
    const std::int32_t ahead_on_thief = std::max(0, std::int32_t(t.cpus) - (w.free_cpus - steal_incoming_[thief]));
    const double on_thief = expected_start_us(w, ahead_on_thief, missing) + steal_cost_us;
    if (on_thief >= on_victim) return true;  // the older tasks wait less still
    steals_.emplace(id, Steal{victim, thief, std::int32_t(t.cpus)});
    steal_incoming_[thief] += t.cpus;
    steal_outgoing_[victim] += t.cpus;
    actions_.steal(victim, id);
  }
  return true;
}

void Scheduler::settle_steal(TaskId id) {
  auto it = steals_.find(id);
  if (it == steals_.end()) return;
  steal_incoming_[it->second.thief] -= it->second.cpus;
  steal_outgoing_[it->second.victim] -= it->second.cpus;
  steals_.erase(it);
}

void Scheduler::tasks_given_back(WorkerId worker, const std::vector<TaskId>& given_back, const std::vector<TaskId>& kept) {
  if (worker >= workers_.size() || !workers_[worker]->alive) return;
  auto asked_of_it = [&](TaskId id) {
    auto it = steals_.find(id);
    return it != steals_.end() && it->second.victim == worker ? it : steals_.end();
  };
  for (TaskId id : kept)
    if (asked_of_it(id) != steals_.end()) settle_steal(id);
  for (TaskId id : given_back) {
    auto it = asked_of_it(id);
    const WorkerId thief = it != steals_.end() ? it->second.thief : no_worker;
    if (it != steals_.end()) settle_steal(id);
    // The worker no longer has it, asked or not: if it is still that worker's, place it again.
    if (!exists(id)) continue;
    TaskRecord& t = tasks_[id];
    if (t.state != TaskState::assigned || t.worker != worker) continue;  // cancelled or moved meanwhile
    transition(id, TaskState::ready, "given back by its worker for an idle one", worker);
    // Consumers chained behind it there since the steal was asked wait for nothing now.
    unchain_consumers(id, worker, "its input moved to another worker: placed again when it finishes");
    if (thief == no_worker || !fits(thief, t, true)) {
      push_ready(id);  // placement decides
      continue;
    }
    Choice choice;
    choice.worker = thief;
    choice.reason = Placement::stolen;
    choice.queued = workers_[thief]->free_cpus < std::int32_t(t.cpus);
    choice.from = worker;
    for_each_input_of(id, [&](ObjectId in) {
      choice.input_bytes += object_size(in);
      if (object_at(in, thief)) choice.local_bytes += object_size(in);
    });
    t.worker = thief;
    t.stolen = true;
    transition(id, TaskState::assigned, "moved to an idle worker, where it starts sooner", thief,
               static_cast<std::uint8_t>(Placement::stolen));
    if (!observers_.empty()) notify_assigned(id, tasks_[id], choice);
    chain_consumers(id, thief);
  }
}

// Its steals are settled: tasks asked of it are re-placed by recovery, and one given back for
// it goes to placement (tasks_given_back finds no thief).
void Scheduler::forget_steals_of(WorkerId worker) {
  for (auto it = steals_.begin(); it != steals_.end();) {
    if (it->second.victim != worker && it->second.thief != worker) {
      ++it;
      continue;
    }
    steal_incoming_[it->second.thief] -= it->second.cpus;
    steal_outgoing_[it->second.victim] -= it->second.cpus;
    it = steals_.erase(it);
  }
  if (worker < workers_.size()) workers_[worker]->recent_cpu_tasks = QueuedTasks();
}

void Scheduler::given_back(TaskId id, TaskRecord& t) {
  unassign(t);  // no cancel: the worker removed it itself
  tasks_.details(id).ready_us = now_us_;
  // tasks_given_back places it on the thief or pushes it on the ready heap.
}

}  // namespace treadle
