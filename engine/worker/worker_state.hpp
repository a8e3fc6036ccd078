#pragma once
// The worker's task state: which assigned tasks wait for inputs, which are ready, which run
// where, the cpus they hold, and the inputs being fetched. No sockets, no threads, no clock:
// events are method calls (times passed in), decisions go to a WorkerActions, so every rule
// is unit-tested without processes (tests/unit/test_worker_state*.cpp). Worker (worker.cpp)
// owns the sockets and the loop and forwards each event here, as ServerLoop does for the
// Scheduler.
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "../common/batches.hpp"
#include "data_store.hpp"
#include "task_api.hpp"
#include "worker_actions.hpp"
#include "worker_task.hpp"

namespace treadle {

class WorkerState {
 public:
  // `registry` says how each type runs (inline or on a thread); `store` holds the objects.
  WorkerState(WorkerActions& actions, const TaskRegistry& registry, DataStore& store, unsigned cpus);

  // -- from the server ---------------------------------------------------------------------
  // New tasks; inputs held elsewhere are fetched (one request per peer). `now_us`: when the
  // fetches start, for traces.
  void compute(const ComputeBatch& batch, std::int64_t now_us);
  void cancel(TaskId task);
  // The server would move these tasks to an idle worker: those not started here (waiting for
  // inputs, or ready and waiting for cpus or an executor) are dropped and returned; the others
  // (started, in an executor's pipe, ended, unknown) stay and are reported as usual.
  std::vector<TaskId> give_back(const std::vector<TaskId>& tasks);
  void free(TaskId object);
  // Copies of objects a retiring peer (data address `peer`) holds: fetched like inputs and kept
  // when they arrive (reported as replicas); objects already here or on their way are skipped.
  void replicate(const std::string& peer, const std::vector<TaskId>& objects, std::int64_t now_us);
  // Holds object `from` under `to` too (a redirected task's result), if it is here.
  void alias(TaskId from, TaskId to);

  // -- from peers, threads and executors ---------------------------------------------------
  // A fetched object arrived; null: the peer no longer had it, so the tasks waiting for it fail.
  void fetched(TaskId object, DataPtr data, std::int64_t now_us);
  void thread_started(TaskId task);  // a thread took the task (a `run` task: its program exists now)
  void thread_finished(TaskId task, TaskOutcome outcome);
  // A Python task began executing (it waited in its executor's pipe until then).
  void executor_started(TaskId task);
  void executor_finished(ExecutorResult& result);
  void task_seceded(TaskId task, bool seceded);

  // Starts every ready task that can start (light ones run here and may make more ready).
  // Call after a batch of events.
  void run_ready();

  // -- queries -----------------------------------------------------------------------------
  const WorkerTask* task(TaskId id) const {
    auto it = tasks_.find(id);
    return it == tasks_.end() ? nullptr : &it->second;
  }
  std::size_t task_count() const { return tasks_.size(); }
  std::int64_t cpus() const { return cpus_; }
  // Cpus held by tasks on threads and executors (seceded ones excepted) and by cancelled tasks
  // whose threads still run. May exceed cpus(): Python tasks waiting in an executor's pipe
  // count, and a rejoined task takes its cpus back at once.
  std::int64_t cpus_held() const { return cpus_held_; }
  std::int64_t free_cpus() const { return cpus_ - cpus_held_; }
  bool fetching(TaskId object) const { return fetches_.count(object) != 0; }
  // True while `object` is asked of the peer with data address `peer`.
  bool fetching_from(TaskId object, const std::string& peer) const {
    auto it = fetches_.find(object);
    return it != fetches_.end() && it->second.peer == peer;
  }
  // Everything that must hold between two events: the first violation, or "" (for tests).
  std::string inconsistency() const;

 private:
  bool try_start(TaskId id, WorkerTask& t);  // false: it must wait for cpus or an executor
  void complete(TaskId id, DataPtr data, std::int64_t start_us, std::int64_t end_us, std::uint32_t lane);
  void complete_outputs(TaskId id, DataPtr data, std::uint32_t outputs, std::int64_t start_us, std::int64_t end_us,
                        std::uint32_t lane);
  void fail(TaskId id, const std::string& message, const std::string& exception = {}, const RunSpan* ran = nullptr);
  void forget(TaskId id);  // drops the task and what it waits for
  void stop_waiting(TaskId object, TaskId task);
  void arrived(TaskId object);
  void left_executor(TaskId id, WorkerTask& t);

  struct Fetch {
    std::string peer;  // data address
    std::int64_t since_us;
  };
  // Runs of cancelled tasks still on threads: their cpus come back when each ends.
  // The cpus of each run, oldest first: a task sent again may be sent with another request.
  struct AbandonedRuns {
    std::deque<std::uint32_t> cpus;
  };

  WorkerActions& actions_;
  const TaskRegistry& registry_;
  DataStore& store_;
  std::int64_t cpus_;
  std::int64_t cpus_held_ = 0;
  std::unordered_map<TaskId, WorkerTask> tasks_;
  std::unordered_map<TaskId, std::vector<TaskId>> waiters_;  // object not here -> tasks waiting for it
  std::unordered_map<TaskId, Fetch> fetches_;                // objects asked of a peer
  std::unordered_set<TaskId> wanted_;                        // fetched to be kept (replicate), maybe for no task
  // Ready tasks in arrival order; an id whose task is no longer ready is skipped.
  std::deque<TaskId> ready_;
  std::unordered_map<TaskId, AbandonedRuns> abandoned_;
};

}  // namespace treadle
