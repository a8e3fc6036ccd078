#pragma once
// What the worker's task state asks of the outside world. The worker turns these into thread
// pool jobs, executor requests and messages (reports batched per loop turn); unit tests
// record them instead.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../common/ids.hpp"
#include "../data/data.hpp"
#include "executor_pool.hpp"
#include "task_api.hpp"

namespace treadle {

// Where a task ran, for traces (FinishedBatch::lanes): the loop, a thread, or executor i (2 + i).
constexpr std::uint32_t lane_loop = 0, lane_thread = 1, lane_executor = 2;

// A task the state starts now, with its inputs taken from the store (in input order).
struct TaskToRun {
  TaskId id = 0;
  std::string_view type;
  std::string_view config;
  const std::vector<TaskId>& input_ids;
  std::vector<DataPtr> inputs;
};

// How a run went: the result, or the error that failed it.
struct TaskOutcome {
  DataPtr data;
  std::string error;
  std::int64_t start_us = 0, end_us = 0;
};

// When a task ran (the worker's wall clock, µs) and on which lane (0 loop, 1 thread, 2+i executor i).
struct RunSpan {
  std::int64_t start_us = 0, end_us = 0;
  std::uint32_t lane = 0;
};

class WorkerActions {
 public:
  virtual ~WorkerActions() = default;

  // -- running tasks ---------------------------------------------------------------------
  // A task that takes microseconds: run now, on the caller's thread.
  virtual TaskOutcome run_inline(const TaskRegistry::Entry& entry, TaskToRun& task) = 0;
  // On the thread pool; WorkerState::thread_started() follows when a thread takes it (for a
  // program, once the program exists), then thread_finished().
  virtual void run_on_thread(const TaskRegistry::Entry& entry, TaskToRun& task) = 0;
  // Whether an executor can take another Python task now.
  virtual bool executor_idle() const = 0;
  // In a Python executor; WorkerState::executor_finished() follows.
  virtual void run_on_executor(TaskToRun& task) = 0;
  // Kills the task's program, wakes its sleep; its thread still reports when it ends.
  virtual void cancel_on_thread(TaskId task) = 0;
  // Stops a Python task (its executor is replaced). Returns the other tasks that executor had,
  // marked `retry`: they are run again.
  virtual std::vector<ExecutorResult> cancel_on_executor(TaskId task) = 0;
  // Writes a result to its checkpoint file; returns what went wrong, or "" when it is written.
  virtual std::string write_checkpoint(const std::string& path, TaskId task, const DataPtr& result) = 0;

  // -- data --------------------------------------------------------------------------------
  // Asks the worker at `peer` (a data address) for these objects; WorkerState::fetched() follows.
  virtual void fetch(const std::string& peer, const std::vector<TaskId>& objects) = 0;

  // -- reports to the server -------------------------------------------------------------
  virtual void started(TaskId task) = 0;
  // Output `object` of a task with other than one output, made (before its task's finished()).
  virtual void output_made(ObjectId object, const Data& data) = 0;
  virtual void finished(TaskId task, const Data& result, std::int64_t start_us, std::int64_t end_us,
                        std::uint32_t lane) = 0;
  // A fetched object now held here too (and the transfer, for traces).
  virtual void replicated(TaskId object, const std::string& peer, std::uint64_t size, std::int64_t start_us,
                          std::int64_t end_us) = 0;
  // A redirected task's result is held here under the task's own id now.
  virtual void aliased(TaskId task) = 0;
  // The next three must reach the server after everything reported before them.
  // `ran`: when and on which lane it ran, for the trace (null: it failed before it ran).
  virtual void failed(TaskId task, const std::string& message, const std::string& exception,
                      const RunSpan* ran) = 0;
  // A Python task returned a plan to run in its place (result.redirect, redirect_frames).
  virtual void redirected(TaskId task, ExecutorResult& result) = 0;
  // A Python task waits on tasks it submitted (its cpus are free), or no longer does.
  virtual void seceded(TaskId task, bool seceded) = 0;

  // -- the loop --------------------------------------------------------------------------
  // Called between the steps of a long stretch of work (a batch of a hundred thousand tasks,
  // inline task after inline task): the worker heartbeats here when one is due, so a big plan
  // on a loaded machine does not look like a dead worker to the server.
  virtual void still_busy() {}
};

}  // namespace treadle
