#include "simulation.hpp"

#include <algorithm>
#include <time.h>

#include <cmath>
#include <cstdio>
#include <functional>

#include "common/log.hpp"
#include "common/symbols.hpp"

namespace treadle::sim {

namespace {
constexpr std::uint32_t none = ~0u;
constexpr double gc_every_us = 250000;  // the server collects garbage about every 250 ms

// CPU time of this thread, not wall time: the machine is shared, and being descheduled is not
// the scheduler's cost. A system call (~0.3 us), so taken per server turn, not per call.
double cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}
}  // namespace

Simulation::Simulation(const Workload& workload, const ClusterSpec& cluster)
    : w_(workload), c_(cluster), scheduler_(*this), links_(cluster.workers) {
  scheduler_.set_work_stealing(cluster.work_stealing);
}

void Simulation::enable_trace() { tracing_ = true; }

bool Simulation::write_trace(const std::string& path) const {
  std::FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return false;
  std::fprintf(f, "task,label,worker,arrived_us,runnable_us,start_us,end_us,given_back,inputs\n");
  for (std::size_t t = 0; t < trace_.size(); ++t) {
    const TraceEntry& e = trace_[t];
    std::fprintf(f, "%zu,%s,%d,%.1f,%.1f,%.1f,%.1f,%u,", t, w_.labels[w_.label_of[t]].name.c_str(),
                 e.worker == ~0u ? -1 : int(e.worker), e.arrived_us, e.runnable_us, e.start_us, e.end_us, e.given_back);
    for (auto in = w_.inputs_begin(t); in != w_.inputs_end(t); ++in)
      std::fprintf(f, in == w_.inputs_begin(t) ? "%u" : " %u", *in);
    std::fputc('\n', f);
  }
  return std::fclose(f) == 0;
}

void Simulation::push(double at_us, EventKind kind, std::uint32_t worker, std::uint32_t task, std::uint32_t attempt) {
  heap_.push_back({at_us, seq_++, kind, worker, task, attempt});
  std::push_heap(heap_.begin(), heap_.end(), std::greater<Event>());
}

void Simulation::report(ReportKind kind, std::uint32_t worker, std::uint32_t task, std::uint32_t duration_us) {
  const double at = now_ + c_.latency_us;
  // Its size read here, not in the server's turn: the simulator's own lookups stay out of the
  // scheduler's measured time.
  const std::uint64_t bytes = kind == ReportKind::finished ? w_.output_bytes[task] : 0;
  inbox_.push_back({at, kind, worker, task, duration_us, bytes});
  if (next_turn_ >= 0) return;  // a turn is coming; what it does not reach waits for the next
  next_turn_ = c_.tick_us > 0 ? std::max(at, std::ceil(at / c_.tick_us) * c_.tick_us) : at;
  push(next_turn_, EventKind::turn, 0);
}

// -- the server ---------------------------------------------------------------------------------

void Simulation::assign(WorkerId worker, TaskId task) {
  const auto t = static_cast<std::uint32_t>(task - base_);
  actions_.push_back({EventKind::arrive, worker, t, 0});  // its attempt is counted when delivered
  ++result_.assignments;
}

void Simulation::cancel(WorkerId worker, TaskId task) {
  const auto t = static_cast<std::uint32_t>(task - base_);
  actions_.push_back({EventKind::cancel, worker, t, 0});  // the attempt it cancels: counted when delivered
}

void Simulation::free_data(WorkerId worker, TaskId object) {
  actions_.push_back({EventKind::free, worker, static_cast<std::uint32_t>(task_of(object) - base_), 0});
}

void Simulation::steal(WorkerId victim, TaskId task) {
  actions_.push_back({EventKind::steal, victim, static_cast<std::uint32_t>(task - base_), 0});
  ++result_.steals_asked;
}

void Simulation::server_turn() {
  next_turn_ = -1;
  // The reports due by now, in order, taken out of the inbox before the clock starts (the
  // simulator's own work); the server receives them as messages.
  turn_reports_.clear();
  while (!inbox_.empty() && inbox_.front().at_us <= now_) {
    const Report& r = inbox_.front();
    turn_reports_.push_back({r.kind, r.worker, base_ + r.task, r.duration_us, r.bytes});
    inbox_.pop_front();
  }
  const double start = cpu_ns();
  handle_turn();
  result_.scheduler_ns += cpu_ns() - start;
  ++result_.batches;
  deliver_actions();
  if (!inbox_.empty() && next_turn_ < 0) {
    const double at = inbox_.front().at_us;
    next_turn_ = c_.tick_us > 0 ? std::max(at, std::ceil(at / c_.tick_us) * c_.tick_us) : at;
    push(next_turn_, EventKind::turn, 0);
  }
}

// The measured part of a turn: the scheduler's calls and what it takes to make them. Not
// inlined, so that callgrind can count it alone (--toggle-collect on this function).
[[gnu::noinline]] void Simulation::handle_turn() {
  scheduler_.set_clock(static_cast<std::int64_t>(now_));
  for (const TurnReport& r : turn_reports_) {
    switch (r.kind) {
      case ReportKind::started: scheduler_.task_started(r.worker, r.id); break;
      // Length 0: what a blob or a Python object that is not a sequence reports (most results).
      case ReportKind::finished: scheduler_.task_finished(r.worker, r.id, r.bytes, 0, r.duration_us); break;
      case ReportKind::replicated: scheduler_.data_replicated(r.worker, r.id); break;
      case ReportKind::given_back: scheduler_.tasks_given_back(r.worker, {r.id}, {}); break;
      case ReportKind::kept: scheduler_.tasks_given_back(r.worker, {}, {r.id}); break;
      case ReportKind::lost: {
        const double lost = cpu_ns();
        scheduler_.remove_worker(r.worker, "lost");
        result_.recovery_ns += cpu_ns() - lost;
        break;
      }
    }
  }
  if (now_ - last_gc_ >= gc_every_us) {
    scheduler_.collect_garbage();
    last_gc_ = now_;
  }
  scheduler_.schedule();
}

void Simulation::deliver_actions() {
  // Attempts are counted here, outside the measured turn, in the order the actions were made.
  for (const Action& a : actions_) {
    const std::uint32_t attempt = a.kind == EventKind::arrive   ? ++sent_attempt_[a.task]
                                  : a.kind == EventKind::cancel ? sent_attempt_[a.task]
                                                                : a.attempt;
    push(now_ + c_.latency_us, a.kind, a.worker, a.task, attempt);
  }
  actions_.clear();
}

// -- the workers --------------------------------------------------------------------------------

bool Simulation::holds(std::uint32_t worker, std::uint32_t task) const {
  if (holder_[task] == worker) return true;
  if (holder_[task] == none) return false;
  auto it = more_holders_.find(task);
  return it != more_holders_.end() && std::find(it->second.begin(), it->second.end(), worker) != it->second.end();
}

void Simulation::add_holder(std::uint32_t task, std::uint32_t worker) {
  if (holds(worker, task)) return;
  if (holder_[task] == none) holder_[task] = worker;
  else more_holders_[task].push_back(worker);
  SimWorker& w = workers_[worker];
  w.bytes_held += w_.output_bytes[task];
  result_.peak_worker_bytes = std::max(result_.peak_worker_bytes, w.bytes_held);
}

void Simulation::remove_holder(std::uint32_t task, std::uint32_t worker) {
  if (!holds(worker, task)) return;
  workers_[worker].bytes_held -= w_.output_bytes[task];
  auto it = more_holders_.find(task);
  if (holder_[task] == worker) {
    if (it == more_holders_.end()) {
      holder_[task] = none;
      return;
    }
    holder_[task] = it->second.back();
    it->second.pop_back();
  } else {
    it->second.erase(std::find(it->second.begin(), it->second.end(), worker));
  }
  if (it->second.empty()) more_holders_.erase(it);
}

std::uint32_t Simulation::live_holder(std::uint32_t task) const { return holder_[task]; }  // lose() drops the dead

void Simulation::arrive(std::uint32_t worker, std::uint32_t task, std::uint32_t attempt) {
  // A superseded assignment: its cancel follows in the same message batch.
  if (!workers_[worker].alive || attempt != sent_attempt_[task]) return;
  on_worker_[task] = worker;
  worker_attempt_[task] = attempt;
  phase_[task] = Phase::fetching;
  if (tracing_) {
    trace_[task].worker = worker;
    trace_[task].arrived_us = now_;
  }
  std::uint32_t missing = 0;
  for (auto in = w_.inputs_begin(task); in != w_.inputs_end(task); ++in) {
    const std::uint32_t i = *in;
    if (holds(worker, i)) continue;
    ++missing;
    if (on_worker_[i] == worker && (phase_[i] == Phase::fetching || phase_[i] == Phase::runnable ||
                                    phase_[i] == Phase::running)) {
      local_waiters_[i].push_back({task, attempt});  // chained: computed here
      continue;
    }
    const std::uint64_t key = std::uint64_t{worker} << 32 | i;
    auto [it, fresh] = fetches_.try_emplace(key);
    if (fresh) {
      const std::uint32_t source = live_holder(i);
      if (source == none) {  // lost with a worker: the scheduler's recovery sends this task back
        fetches_.erase(it);
        continue;
      }
      push(links_.transfer(worker, now_, w_.output_bytes[i], c_), EventKind::fetched, worker, i, source);
    }
    it->second.push_back({task, attempt});
  }
  missing_[task] = missing;
  if (missing == 0) {
    phase_[task] = Phase::runnable;
    if (tracing_) trace_[task].runnable_us = now_;
    workers_[worker].runnable.push_back({task, attempt});
    try_start(worker);
  }
}

void Simulation::fetched(std::uint32_t worker, std::uint32_t input) {
  auto it = fetches_.find(std::uint64_t{worker} << 32 | input);
  if (it == fetches_.end()) return;
  if (!workers_[worker].alive) {
    fetches_.erase(it);
    return;
  }
  auto waiters = std::move(it->second);
  fetches_.erase(it);
  if (holder_[input] == none) return;  // its only holders were lost meanwhile: the scheduler sends these back
  add_holder(input, worker);
  result_.bytes_moved += w_.output_bytes[input];
  ++result_.transfers;
  report(ReportKind::replicated, worker, input);
  for (auto [task, attempt] : waiters)
    if (current(worker, task, attempt) && phase_[task] == Phase::fetching) input_there(task, attempt);
}

void Simulation::input_there(std::uint32_t task, std::uint32_t attempt) {
  if (--missing_[task] > 0) return;
  phase_[task] = Phase::runnable;
  if (tracing_) trace_[task].runnable_us = now_;
  workers_[on_worker_[task]].runnable.push_back({task, attempt});
  try_start(on_worker_[task]);
}

void Simulation::try_start(std::uint32_t worker) {
  SimWorker& w = workers_[worker];
  while (w.free_cpus > 0 && !w.runnable.empty()) {
    auto [task, attempt] = w.runnable.front();
    w.runnable.pop_front();
    if (!current(worker, task, attempt) || phase_[task] != Phase::runnable) continue;
    phase_[task] = Phase::running;
    if (tracing_) trace_[task].start_us = now_;
    --w.free_cpus;
    ++result_.runs;
    report(ReportKind::started, worker, task);
    push(now_ + w_.duration_us[task], EventKind::done, worker, task, attempt);
  }
}

void Simulation::done(std::uint32_t worker, std::uint32_t task, std::uint32_t attempt) {
  if (!current(worker, task, attempt) || phase_[task] != Phase::running) return;  // cancelled meanwhile
  phase_[task] = Phase::done;
  if (tracing_) trace_[task].end_us = now_;
  ++workers_[worker].free_cpus;
  add_holder(task, worker);
  result_.makespan_us = std::max(result_.makespan_us, now_);
  report(ReportKind::finished, worker, task, static_cast<std::uint32_t>(w_.duration_us[task]));
  auto it = local_waiters_.find(task);
  if (it != local_waiters_.end()) {
    auto waiters = std::move(it->second);
    local_waiters_.erase(it);
    for (auto [c, a] : waiters)
      if (current(worker, c, a) && phase_[c] == Phase::fetching) input_there(c, a);
  }
  try_start(worker);
}

void Simulation::cancel_arrived(std::uint32_t worker, std::uint32_t task, std::uint32_t attempt) {
  if (!current(worker, task, attempt) || phase_[task] == Phase::done) return;
  const bool was_running = phase_[task] == Phase::running;
  phase_[task] = Phase::none;
  on_worker_[task] = none;
  if (was_running) {
    ++workers_[worker].free_cpus;
    try_start(worker);
  }
}

void Simulation::steal_arrived(std::uint32_t worker, std::uint32_t task) {
  const bool queued = workers_[worker].alive && on_worker_[task] == worker &&
                      (phase_[task] == Phase::fetching || phase_[task] == Phase::runnable);
  if (!workers_[worker].alive) return;
  if (queued) {  // its fetches and runnable entry are skipped from now on (not current)
    phase_[task] = Phase::none;
    on_worker_[task] = none;
    ++result_.steals_given;
    if (tracing_) ++trace_[task].given_back;
  }
  report(queued ? ReportKind::given_back : ReportKind::kept, worker, task);
}

void Simulation::lose(std::uint32_t worker) {
  SimWorker& w = workers_[worker];
  if (!w.alive) return;
  w.alive = false;
  w.free_cpus = 0;
  w.runnable.clear();
  for (std::uint32_t t = 0; t < w_.size(); ++t) {
    if (on_worker_[t] == worker && phase_[t] != Phase::done) {
      phase_[t] = Phase::none;
      on_worker_[t] = none;
    }
    remove_holder(t, worker);
  }
  // The server notices the silence after detect_us; the report's own latency is part of it.
  push(now_ + std::max(0.0, c_.detect_us - c_.latency_us), EventKind::detect, worker);
}

// -- the run ------------------------------------------------------------------------------------

SimResult Simulation::run() {
  log::set_level(log::Level::error);  // "worker lost" is expected here
  const std::size_t n = w_.size();
  sent_attempt_.assign(n, 0);
  worker_attempt_.assign(n, 0);
  on_worker_.assign(n, none);
  phase_.assign(n, Phase::none);
  missing_.assign(n, 0);
  holder_.assign(n, none);
  if (tracing_) trace_.assign(n, TraceEntry{});

  std::vector<std::string> types(std::begin(symbols::builtins), std::end(symbols::builtins));
  types.emplace_back(symbols::py_call);
  double start = cpu_ns();
  for (std::uint32_t k = 0; k < c_.workers; ++k) {
    SimWorker w;
    w.id = scheduler_.add_worker("sim" + std::to_string(k), "tcp://sim" + std::to_string(k) + ":1", c_.cpus, types);
    w.free_cpus = static_cast<std::int32_t>(c_.cpus);
    workers_.push_back(std::move(w));
  }
  result_.submit_ns += cpu_ns() - start;
  {
    // The plan as a client sends it: Python tasks asking for one cpu each, with labels.
    PlanRequest r;
    r.types = {std::string(symbols::py_call)};
    r.type_of.assign(n, 0);
    r.cpus.assign(n, 1);
    r.input_counts.resize(n);
    r.inputs.reserve(w_.inputs.size());
    for (std::size_t t = 0; t < n; ++t) {
      r.input_counts[t] = static_cast<std::uint32_t>(w_.inputs_end(t) - w_.inputs_begin(t));
      for (auto in = w_.inputs_begin(t); in != w_.inputs_end(t); ++in) r.inputs.push_back(plan_local_bit | *in);
    }
    r.config_offsets.assign(n + 1, 0);
    r.labels.push_back("");
    for (auto& l : w_.labels) r.labels.push_back(l.name);
    r.label_of.resize(n);
    for (std::size_t t = 0; t < n; ++t) r.label_of[t] = w_.label_of[t] + 1u;
    r.keep = w_.keep;
    start = cpu_ns();
    base_ = scheduler_.submit(1, std::move(r));
    result_.submit_ns += cpu_ns() - start;
  }
  result_.scheduler_bytes = scheduler_.memory_estimate();

  for (const auto& loss : c_.losses)
    if (loss.worker < c_.workers) push(loss.at_us, EventKind::lose, loss.worker);
  // What two clock reads around an empty turn count (the median of many), so the clock's share
  // of scheduler_ns can be told apart.
  {
    std::vector<double> empty(1001);
    for (double& d : empty) {
      const double before = cpu_ns();
      d = cpu_ns() - before;
    }
    std::nth_element(empty.begin(), empty.begin() + 500, empty.end());
    timer_per_turn_ns_ = empty[500];
  }
  next_turn_ = 0;
  push(0, EventKind::turn, 0);
  while (!heap_.empty()) {
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<Event>());
    const Event e = heap_.back();
    heap_.pop_back();
    now_ = e.at_us;
    switch (e.kind) {
      case EventKind::arrive: arrive(e.worker, e.task, e.attempt); break;
      case EventKind::cancel: cancel_arrived(e.worker, e.task, e.attempt); break;
      case EventKind::free: remove_holder(e.task, e.worker); break;
      case EventKind::fetched: fetched(e.worker, e.task); break;
      case EventKind::done: done(e.worker, e.task, e.attempt); break;
      case EventKind::turn: server_turn(); break;
      case EventKind::lose: lose(e.worker); break;
      case EventKind::detect: report(ReportKind::lost, e.worker, 0); break;
      case EventKind::steal: steal_arrived(e.worker, e.task); break;
    }
  }

  const std::uint64_t settled = scheduler_.count(TaskState::finished) + scheduler_.count(TaskState::released);
  if (scheduler_.count(TaskState::failed) || kept_failed_) {
    result_.problem = std::to_string(scheduler_.count(TaskState::failed)) + " tasks failed";
  } else if (scheduler_.cancelled_count()) {
    result_.problem = std::to_string(scheduler_.cancelled_count()) + " tasks were cancelled";
  } else if (settled != n || kept_finished_ < w_.keep.size()) {
    result_.problem = "stuck with no event left: " + std::to_string(n - settled) + " of " + std::to_string(n) +
                      " tasks unfinished (waiting " + std::to_string(scheduler_.count(TaskState::waiting)) +
                      ", ready " + std::to_string(scheduler_.count(TaskState::ready)) + ", assigned " +
                      std::to_string(scheduler_.count(TaskState::assigned)) + ", running " +
                      std::to_string(scheduler_.count(TaskState::running)) + ")";
  }
  result_.timer_ns = timer_per_turn_ns_ * double(result_.batches);
  result_.complete = result_.problem.empty();
  return result_;
}

}  // namespace treadle::sim
