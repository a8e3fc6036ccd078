#pragma once
// What the scheduler knows of one task. Kept small (the server holds millions of them);
// configs, inputs and labels live in the task's Plan.
#include <cstdint>
#include "../common/ids.hpp"
#include "task_state.hpp"
#include "worker_set.hpp"

namespace treadle {

// What reports and placement read, in half a cache line, aligned to it: at thousands of
// workers a task's record is out of the cache at each of its events, and a reducer reads its
// inputs' records (adjacent ones) together at its placement, at their copies and at its end,
// so 32 bytes put two records in a line where 64 took one each (bench/README.md, "The
// scheduler simulator"). What those events do not read is in TaskDetails, apart. Unaligned (a
// plan's records start where malloc put them) a record would straddle two lines.
struct alignas(32) TaskRecord {
  TaskRecord()
      : has_extra_consumers(false), lost_data(false), inputs_overridden(false), rerun(false), seceded(false),
        multi_output(false), parked(false), stolen(false), no_inputs(false), no_consumers(false), kept(false),
        big_size(false), has_length(false) {}
  TaskState state = TaskState::waiting;
  bool has_extra_consumers : 1;      // consumers in later plans (Scheduler::extra_consumers_)
  bool lost_data : 1;                // recomputing because a worker died
  bool inputs_overridden : 1;        // rewritten by a dynamic expansion (Scheduler::input_override_)
  bool rerun : 1;                    // placed again because its worker (or an input's) was lost
  bool seceded : 1;                  // running, but waiting on tasks it submitted: its cpus are free
  // Not one output: its objects are ObjectRecords (Scheduler::outputs_), and size, kind,
  // locations below are unused; holds and keeps are the sums over its objects.
  bool multi_output : 1;
  // Ready but out of the ready queue: a constant that runs beside its consumer, held back until
  // the consumer's other input is placed (beside_consumer.cpp).
  bool parked : 1;
  // Moved by work stealing: not moved again (no task goes back and forth between two workers).
  bool stolen : 1;
  std::uint16_t type = 0;
  std::uint16_t cpus = 0;            // 0: light task, may share cpus
  std::uint8_t kind = 0;             // of the result, as reported (FinishedBatch::kinds)
  // Its plan lists no inputs (no consumers) for it, so reading them skips the plan's offsets:
  // at 10,000 simulated workers those missed the cache at a task's end (bench/README.md, "The
  // scheduler simulator"). Set at submit; false only means "look".
  bool no_inputs : 1;
  bool no_consumers : 1;             // in its own plan (later plans: has_extra_consumers)
  bool kept : 1;                     // TaskDetails::keeps > 0 (a task's end asks, without the details)
  bool big_size : 1;                 // the size is TaskDetails::size (small_size does not hold it)
  bool has_length : 1;               // TaskDetails::length may be non-zero
  std::uint32_t unfinished_inputs = 0;
  std::uint32_t holds = 0;           // unfinished consumers + client futures: >0 keeps the result
  WorkerId worker = no_worker;       // while assigned/running
  // The result's size when under 4 GiB - 1 (almost always): Scheduler::result_size reads it.
  std::uint32_t small_size = 0;
  WorkerSet locations;               // workers that hold the result
};
// The server holds one per task: a field added here costs a million plans' worth of memory.
static_assert(sizeof(TaskRecord) == 32, "TaskRecord grew");

// The rest of what the scheduler knows of a task: read when it becomes ready, for clients'
// futures and stories, not at each start and end. A plan keeps them in a column of their own
// beside its records (TaskTable::details).
struct alignas(32) TaskDetails {
  std::uint32_t keeps = 0;           // client futures alone
  std::int32_t priority = 0;         // longest path to a sink: critical path first
  std::int64_t ready_us = -1;        // when it became ready (scheduler clock); -1: chained, never queued
  std::uint64_t length = 0;          // TaskRecord::has_length says whether to look
  std::uint64_t size = 0;            // TaskRecord::big_size says whether to look
};
static_assert(sizeof(TaskDetails) == 32, "TaskDetails grew");

// One output of a task with zero or several outputs (TaskRecord::multi_output). The outputs of
// a task are made together, but each is held, fetched, copied, freed and lost on its own.
struct ObjectRecord {
  std::uint64_t size = 0;
  std::uint64_t length = 0;
  std::uint8_t kind = 0;
  std::uint32_t holds = 0;          // unfinished consumers + client futures
  std::uint32_t keeps = 0;          // client futures alone
  WorkerSet locations;              // workers that hold it (kept while its task is recomputed)
};

}  // namespace treadle
