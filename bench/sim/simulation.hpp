#pragma once
// The real Scheduler (engine/server) driving simulated workers in simulated time.
//
// Workers and messages are events in one queue: an assignment reaches its worker `latency`
// after the server's turn that made it; the worker fetches the inputs it lacks (size /
// bandwidth + latency, transfers into one worker queued on its link) or waits for inputs being
// computed there (chains), runs the task on a free cpu for its drawn duration, and reports.
// Reports reach the server `latency` later and are handled in batches, one per server tick,
// each followed by schedule(), as the server loop does. Only the time spent inside Scheduler
// calls is measured (this thread's CPU time, per server turn); everything else is the
// simulator's own. Scheduling takes no simulated time.
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster.hpp"
#include "server/scheduler.hpp"
#include "workload.hpp"

namespace treadle::sim {

struct SimResult {
  bool complete = false;  // every task finished once at least, the kept ones reported to the client
  std::string problem;    // why not
  double makespan_us = 0;  // the last task's end
  std::uint64_t runs = 0;  // task executions, re-runs after a loss included
  std::uint64_t bytes_moved = 0;
  std::uint64_t transfers = 0;
  std::uint64_t assignments = 0;  // assign actions (decisions)
  std::uint64_t steals_asked = 0, steals_given = 0;  // work stealing: asked of victims, given back
  std::uint64_t batches = 0;      // server turns
  // CPU time of this thread inside Scheduler calls (not wall time: the machine is shared).
  double submit_ns = 0;           // Scheduler::submit (and add_worker)
  double scheduler_ns = 0;        // every other Scheduler call: reports, schedule(), remove_worker
  double recovery_ns = 0;         // remove_worker alone (included in scheduler_ns)
  // The clock's own share of scheduler_ns: two reads of the thread's CPU time per turn, each a
  // system call (about 1.5 us on this VM), measured before the run. Where turns are many and
  // small (10 workers: one turn per 4 tasks) it is most of the figure.
  double timer_ns = 0;
  double peak_worker_bytes = 0;   // the most any worker held at once
  std::size_t scheduler_bytes = 0;  // Scheduler::memory_estimate() right after submit
};

class Simulation : public SchedulerActions {
 public:
  Simulation(const Workload& workload, const ClusterSpec& cluster);
  // Record every task's last run (worker, arrival, inputs there, start, end, moves) for
  // write_trace; costs 40 bytes per task.
  void enable_trace();
  SimResult run();
  // One CSV line per task: task,label,worker,arrived_us,runnable_us,start_us,end_us,given_back,inputs
  // (space-separated task indices).
  // Returns false when the file cannot be written.
  bool write_trace(const std::string& path) const;

  // SchedulerActions: recorded during a server turn, delivered `latency` after it.
  void assign(WorkerId worker, TaskId task) override;
  void cancel(WorkerId worker, TaskId task) override;
  void free_data(WorkerId worker, TaskId task) override;
  void steal(WorkerId victim, TaskId task) override;
  void kept_finished(TaskId task) override { ++kept_finished_; }
  void kept_failed(TaskId task) override { ++kept_failed_; }

 private:
  enum class EventKind : std::uint8_t { arrive, cancel, free, fetched, done, turn, lose, detect, steal };
  struct Event {
    double at_us;
    std::uint64_t seq;  // same time: in the order sent (messages on one connection keep order)
    EventKind kind;
    std::uint32_t worker;
    std::uint32_t task;
    std::uint32_t attempt;  // which assignment of the task this concerns
    bool operator>(const Event& o) const { return at_us != o.at_us ? at_us > o.at_us : seq > o.seq; }
  };
  enum class ReportKind : std::uint8_t { started, finished, replicated, lost, given_back, kept };
  struct Report {
    double at_us;
    ReportKind kind;
    std::uint32_t worker;
    std::uint32_t task;
    std::uint32_t duration_us;
    std::uint64_t bytes;  // a finished task's output size
  };
  enum class Phase : std::uint8_t { none, fetching, runnable, running, done };

  void push(double at_us, EventKind kind, std::uint32_t worker, std::uint32_t task = 0, std::uint32_t attempt = 0);
  void report(ReportKind kind, std::uint32_t worker, std::uint32_t task, std::uint32_t duration_us = 0);
  void server_turn();
  void handle_turn();
  void deliver_actions();
  // The worker side.
  void arrive(std::uint32_t worker, std::uint32_t task, std::uint32_t attempt);
  void fetched(std::uint32_t worker, std::uint32_t input);
  void input_there(std::uint32_t task, std::uint32_t attempt);
  void try_start(std::uint32_t worker);
  void done(std::uint32_t worker, std::uint32_t task, std::uint32_t attempt);
  void cancel_arrived(std::uint32_t worker, std::uint32_t task, std::uint32_t attempt);
  // The victim gives the task back unless it started (or ended, or it is not there).
  void steal_arrived(std::uint32_t worker, std::uint32_t task);
  void lose(std::uint32_t worker);
  bool current(std::uint32_t worker, std::uint32_t task, std::uint32_t attempt) const {
    return on_worker_[task] == worker && worker_attempt_[task] == attempt && workers_[worker].alive;
  }
  // Which workers hold a task's output (the truth; the scheduler learns it from reports).
  bool holds(std::uint32_t worker, std::uint32_t task) const;
  void add_holder(std::uint32_t task, std::uint32_t worker);
  void remove_holder(std::uint32_t task, std::uint32_t worker);
  std::uint32_t live_holder(std::uint32_t task) const;

  const Workload& w_;
  const ClusterSpec& c_;
  Scheduler scheduler_;
  TaskId base_ = 0;
  struct SimWorker {
    WorkerId id = 0;
    std::int32_t free_cpus = 0;
    bool alive = true;
    double bytes_held = 0;
    std::deque<std::pair<std::uint32_t, std::uint32_t>> runnable;  // (task, attempt), in order
  };
  std::vector<SimWorker> workers_;
  Links links_;
  std::vector<Event> heap_;
  std::uint64_t seq_ = 0;
  double now_ = 0;
  std::deque<Report> inbox_;  // reports on their way to the server, in arrival order
  // The reports one server turn handles, as the scheduler names them.
  struct TurnReport {
    ReportKind kind;
    std::uint32_t worker;
    TaskId id;
    std::uint32_t duration_us;
    std::uint64_t bytes;
  };
  std::vector<TurnReport> turn_reports_;
  double next_turn_ = -1;     // the server turn already scheduled (-1: none)
  double last_gc_ = 0;
  double timer_per_turn_ns_ = 0;  // SimResult::timer_ns per turn
  struct Action {
    EventKind kind;
    std::uint32_t worker, task, attempt;
  };
  std::vector<Action> actions_;
  // Per task: the assignment the server sent last, the one its worker holds, where and how far.
  std::vector<std::uint32_t> sent_attempt_, worker_attempt_, on_worker_;
  std::vector<Phase> phase_;
  std::vector<std::uint32_t> missing_;
  std::vector<std::uint32_t> holder_;  // first holder, ~0u: none
  std::unordered_map<std::uint32_t, std::vector<std::uint32_t>> more_holders_;
  // Consumers waiting on an input computed on their own worker, by input; (task, attempt).
  std::unordered_map<std::uint32_t, std::vector<std::pair<std::uint32_t, std::uint32_t>>> local_waiters_;
  // Fetches in flight, by (worker << 32 | input): the consumers waiting for each.
  std::unordered_map<std::uint64_t, std::vector<std::pair<std::uint32_t, std::uint32_t>>> fetches_;
  std::uint64_t kept_finished_ = 0, kept_failed_ = 0;
  // The trace (enable_trace): per task, times of its last run; how often it was given back.
  struct TraceEntry {
    double arrived_us = -1, runnable_us = -1, start_us = -1, end_us = -1;
    std::uint32_t worker = ~0u;
    std::uint32_t given_back = 0;
  };
  bool tracing_ = false;
  std::vector<TraceEntry> trace_;
  SimResult result_;
};

}  // namespace treadle::sim
