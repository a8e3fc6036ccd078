// Placement: which worker runs a ready task.
//
// Prefer the worker already holding most bytes of the task's inputs; otherwise the least
// busy worker that fits. A light task whose consumer will meet an input already placed
// somewhere goes there too, and a light task whose inputs are all being computed on one
// worker is sent there at once ("chained"): the worker starts it the moment its inputs
// exist, with no round trip to the server per step. A task asking for cpus is chained only
// behind one holding as many there, within the room of the worker's queue.
#include <algorithm>
#include <limits>

#include "explain.hpp"
#include "scheduler.hpp"

namespace treadle {

namespace {
constexpr std::uint32_t chain_max_inputs = 8;  // beyond this, a consumer is not worth the scan
constexpr int cpu_pass_misses = 32;            // deferred cpu tasks before a pass gives up
// Deferred light tasks before a pass gives up: ones only full workers can run (their type),
// while others have room, must not make every pass walk the whole ready queue.
constexpr int light_pass_misses = 256;
}  // namespace

// `queued`: may the task wait in the worker's queue, or must cpus be free right now?
// Reads the type's bitmap and the first line of the worker's record, which the assignment
// that usually follows reads anyway (worker_index.hpp says why there is no copy of the load).
bool Scheduler::fits(WorkerId w, const TaskRecord& t, bool queued) const {
  if (!load_index_.listed(w) || !type_offers_.offers(w, t.type)) return false;  // listed: live, not retiring
  const WorkerInfo& s = *workers_[w];
  if (t.cpus == 0) return s.light_room();
  // cpus promised to tasks stolen for it (stealing.cpp) are taken, though not yet assigned.
  std::int32_t room = s.free_cpus + (queued ? s.queue_cpus : 0) - cpus_promised(w);
  return t.cpus <= s.cpus && room >= static_cast<std::int32_t>(t.cpus);
}

bool Scheduler::runnable_somewhere(const TaskRecord& t) const {
  for (auto& w : workers_)
    if (w->alive && w->offers_type[t.type] && w->cpus >= t.cpus) return true;
  return false;
}

const char* placement_name(Placement p) {
  switch (p) {
    case Placement::chained: return "chained";
    case Placement::locality: return "locality";
    case Placement::with_consumer: return "with_consumer";
    case Placement::least_loaded: return "least_loaded";
    case Placement::only_fit: return "only_fit";
    case Placement::only_worker: return "only_worker";
    case Placement::stolen: return "stolen";
  }
  return "?";
}

const char* cause_name(PlacementCause c) {
  switch (c) {
    case PlacementCause::first: return "first";
    case PlacementCause::worker_lost: return "worker_lost";
    case PlacementCause::recomputed: return "recomputed";
  }
  return "?";
}

WorkerId Scheduler::least_busy(const TaskRecord& t, bool queued) const {
  if (t.cpus && queued && load_index_.with_room() == 0) return no_worker;  // every queue is full
  const std::int32_t min_free = queued ? std::numeric_limits<std::int32_t>::min() : std::int32_t(t.cpus);
  return load_index_.least_busy(t.cpus, min_free, [&](WorkerId w) { return fits(w, t, queued); });
}

void Scheduler::list_worker(const WorkerInfo& w) {
  load_index_.insert(w);
  for (std::uint16_t type = 0; type < w.offers_type.size(); ++type)
    if (w.offers_type[type]) type_offers_.count(type, w.cpus, +1);
}

void Scheduler::unlist_worker(const WorkerInfo& w) {
  if (!load_index_.listed(w.id)) return;
  load_index_.erase(w);
  for (std::uint16_t type = 0; type < w.offers_type.size(); ++type)
    if (w.offers_type[type]) type_offers_.count(type, w.cpus, -1);
}

double Scheduler::expected_start_us(const WorkerInfo& w, std::int32_t cpus_ahead, std::uint64_t missing) const {
  return double(cpus_ahead) / double(w.cpus) * std::max(w.task_us, 100.0) + double(missing) / 1000.0;
}

// Where a queued cpu task likely starts first: the wait behind the worker's queue (its recent
// task duration per queued cpu) plus the time to fetch the inputs it lacks (about 1 GB/s).
// Candidates: the workers holding its inputs and the least busy one (the others wait longer
// and lack every input), so the cost does not grow with the number of workers.
WorkerId Scheduler::soonest_start(const TaskRecord& t, const std::vector<std::pair<WorkerId, std::uint64_t>>& bytes_on,
                                  std::uint64_t input_bytes, WorkerId local) const {
  auto bytes_there = [&](WorkerId w) -> std::uint64_t {
    for (auto& e : bytes_on)
      if (e.first == w) return e.second;
    return 0;
  };
  auto cost_us = [&](const WorkerInfo& w) {
    return expected_start_us(w, std::int32_t(t.cpus) - w.free_cpus, input_bytes - std::min(input_bytes, bytes_there(w.id)));
  };
  WorkerId best = local;
  double best_cost = cost_us(*workers_[local]);
  auto consider = [&](WorkerId w) {
    if (w == no_worker || w == local || !fits(w, t, true)) return;
    double cost = cost_us(*workers_[w]);
    if (cost < best_cost) {
      best = w;
      best_cost = cost;
    }
  };
  for (auto& e : bytes_on) consider(e.first);
  consider(least_busy(t, true));
  return best;
}

Scheduler::Choice Scheduler::choose_worker(TaskId id, const TaskRecord& t) {
  Choice choice;
  // Locality: bytes of inputs per holding worker (few inputs, few holders: a tiny vector).
  std::vector<std::pair<WorkerId, std::uint64_t>> bytes_on;
  auto inputs = inputs_of(id);
  for (ObjectId in : inputs) {
    const auto& where = locations(in);
    const std::uint64_t size = object_size(in);
    if (!where.empty()) choice.input_bytes += size;
    for (WorkerId w : where) {
      auto it = std::find_if(bytes_on.begin(), bytes_on.end(), [&](auto& e) { return e.first == w; });
      if (it == bytes_on.end()) bytes_on.emplace_back(w, size + 1);
      else it->second += size + 1;
    }
  }
  auto local_bytes = [&](WorkerId w) {
    std::uint64_t bytes = 0;
    for (ObjectId in : inputs)
      if (object_at(in, w)) bytes += object_size(in);
    return bytes;
  };
  // A source task (no inputs) joins the worker where its consumer's other inputs are placed;
  // a constant may wait for them to be (beside_consumer.cpp).
  if (inputs.size() == 0 && t.cpus == 0) {
    const Beside beside = beside_consumer(id, t);
    if (beside.park) {
      choice.park = true;
      return choice;
    }
    choice.fan_in = beside.fan_in;
    if (beside.worker != no_worker && fits(beside.worker, t)) {
      choice.worker = beside.worker;
      choice.reason = Placement::with_consumer;
      return choice;
    }
  }
  // Prefer a worker where the task can start now; queue it only when none has cpus free.
  for (bool queued : {false, true}) {
    if (queued && t.cpus == 0) break;
    choice.queued = queued;
    WorkerId best = no_worker;
    std::uint64_t best_bytes = 0;
    for (auto& [w, bytes] : bytes_on)
      if (bytes > best_bytes && fits(w, t, queued)) {
        best = w;
        best_bytes = bytes;
      }
    // Queued, locality alone would pile tasks behind the worker holding a shared input (a
    // pickled function) while others have shorter queues: weigh the wait there against the
    // transfer the input would cost elsewhere.
    if (queued && best != no_worker && t.cpus) {
      WorkerId sooner = soonest_start(t, bytes_on, choice.input_bytes, best);
      if (sooner != best) {
        choice.worker = sooner;
        choice.reason = Placement::least_loaded;
        choice.local_bytes = local_bytes(sooner);
        return choice;
      }
    }
    if (best != no_worker) {
      choice.worker = best;
      choice.reason = Placement::locality;
      choice.local_bytes = local_bytes(best);
      return choice;
    }
    // The least busy worker that fits.
    best = least_busy(t, queued);
    if (best != no_worker) {
      choice.worker = best;
      // Whether it had a choice: other workers with its type and cpus, however busy now.
      choice.reason = alive_workers_ == 1                                 ? Placement::only_worker
                      : type_offers_.placeable(t.type, t.cpus, 2) >= 2 ? Placement::least_loaded
                                                                        : Placement::only_fit;
      if (!bytes_on.empty()) choice.local_bytes = local_bytes(best);
      return choice;
    }
  }
  choice.worker = no_worker;
  return choice;
}

void Scheduler::place(TaskId id, const Choice& choice) {
  if (choice.fan_in != no_task) fan_in_ = {choice.fan_in, choice.worker};
  tasks_[id].worker = choice.worker;
  transition(id, TaskState::assigned, "placed on a worker", choice.worker, static_cast<std::uint8_t>(choice.reason));
  if (!observers_.empty()) notify_assigned(id, tasks_[id], choice);
  chain_consumers(id, choice.worker);
}

void Scheduler::notify_assigned(TaskId id, const TaskRecord& t, const Choice& choice) {
  Decision d;
  d.task = id;
  d.worker = choice.worker;
  d.reason = choice.reason;
  d.cause = t.lost_data ? PlacementCause::recomputed : t.rerun ? PlacementCause::worker_lost : PlacementCause::first;
  d.queued = choice.queued;
  d.at_us = now_us_;
  d.ready_us = tasks_.details(id).ready_us;
  d.local_bytes = choice.local_bytes;
  d.input_bytes = choice.input_bytes;
  d.from = choice.from;
  if (t.rerun && !lost_before_.empty()) {
    auto lost = lost_before_.find(id);
    if (lost != lost_before_.end()) d.lost_worker = lost->second;
  }
  for (auto* o : observers_) o->on_assigned(d);
}

void Scheduler::chain_consumers(TaskId first, WorkerId worker) {
  std::vector<TaskId> work{first};
  while (!work.empty()) {
    TaskId id = work.back();
    work.pop_back();
    for_each_consumer(tasks_[id], id, [&](TaskId c) {
      TaskRecord& consumer = tasks_[c];
      if (consumer.state != TaskState::waiting) return;
      auto consumer_inputs = inputs_of(c);
      if (consumer_inputs.size() > chain_max_inputs) return;  // none of its inputs is parked either
      // A cpu task follows only a producer there holding as many cpus, which it takes over
      // when the producer ends (a chain of Python steps never waits for the server).
      bool chain = fits(worker, consumer) && consumer.cpus <= tasks_[id].cpus && !is_dynamic(consumer);
      for (ObjectId in : consumer_inputs) {
        if (!chain) break;
        const TaskRecord& input = tasks_[task_of(in)];
        chain = input.state == TaskState::finished ? object_at(in, worker)
                : input.state == TaskState::assigned || input.state == TaskState::running ? input.worker == worker
                                                                                           : comes_along(task_of(in), input);
      }
      // Its constants come along; those parked for it go back to the queue if it stays behind.
      if (!chain || !bring_constants(consumer_inputs, worker) || !fits(worker, consumer)) {
        for (ObjectId in : consumer_inputs) unpark(task_of(in));
        return;
      }
      consumer.worker = worker;
      tasks_.details(c).ready_us = -1;  // never queued: it starts on the worker when its inputs are made there
      transition(c, TaskState::assigned, "chained behind its inputs on the same worker", worker,
                 static_cast<std::uint8_t>(Placement::chained));
      if (!observers_.empty()) {
        Choice chained;
        chained.worker = worker;
        chained.reason = Placement::chained;
        notify_assigned(c, consumer, chained);
      }
      work.push_back(c);
    });
  }
}

void Scheduler::schedule() {
  if (alive_workers_ == 0) return;
  if (!unfit_.empty() && (worker_joined_ || now_us_ >= unfit_due_us_)) requeue_unfit();
  worker_joined_ = false;
  std::vector<std::uint64_t> deferred;  // ready keys
  // Light tasks go out as workers have room (light_tasks_per_cpu); the rest stay ready here.
  int light_misses = 0;
  while (load_index_.with_light_room() > 0 && !light_ready_.empty() && light_misses < light_pass_misses) {
    const std::uint64_t key = light_ready_.top_key();
    light_ready_.pop();
    const TaskId id = ReadyQueue::id_of(key);
    if (!tasks_.live(id)) continue;  // a stale entry whose plan was freed meanwhile
    const TaskRecord& t = tasks_[id];
    if (t.state != TaskState::ready) continue;  // stale entry
    Choice choice = choose_worker(id, t);
    if (choice.park) set_parked(tasks_[id], true);  // out of the queue until its consumer's input is placed
    else if (choice.worker != no_worker) place(id, choice);
    else if (!runnable_somewhere(t)) {
      if (!wait_for_fit(id, t)) fail_with(id, Failure{id, "no connected worker offers task type '" + type_names_[t.type] + "'"});
    } else {
      deferred.push_back(key);
      ++light_misses;
    }
  }
  for (std::uint64_t key : deferred) light_ready_.push_key(key);
  deferred.clear();

  // No worker with room (cpus free or queue space) takes any cpu task: stop at once, without
  // popping and pushing back tasks that cannot fit.
  int misses = 0;
  while (load_index_.with_room() > 0 && !cpu_ready_.empty() && misses < cpu_pass_misses) {
    const std::uint64_t key = cpu_ready_.top_key();
    cpu_ready_.pop();
    const TaskId id = ReadyQueue::id_of(key);
    if (!tasks_.live(id)) continue;
    const TaskRecord& t = tasks_[id];
    if (t.state != TaskState::ready) continue;
    Choice choice = choose_worker(id, t);
    if (choice.worker != no_worker) {
      place(id, choice);
    } else if (!runnable_somewhere(t)) {
      if (!wait_for_fit(id, t)) fail_with(id, Failure{id, "no connected worker can run it: " + why_no_worker_can_run(*this, t)});
    } else {
      deferred.push_back(key);
      ++misses;
    }
  }
  for (std::uint64_t key : deferred) cpu_ready_.push_key(key);
  steal_for_idle_workers();
}

}  // namespace treadle
