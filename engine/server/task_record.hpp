#pragma once
// What the scheduler knows of one task. Kept small (the server holds millions of them);
// configs, inputs and labels live in the task's Plan.
#include <cstdint>
#include "../common/ids.hpp"
#include "task_state.hpp"
#include "worker_set.hpp"

namespace treadle {

// One cache line, aligned to it: reports touch a task's record and its consumers' and inputs',
// and at thousands of workers those are out of the cache by then; unaligned (a plan's records
// start where malloc put them, 16 bytes into a line) every record straddled two lines.
struct alignas(64) TaskRecord {
  TaskRecord()
      : has_extra_consumers(false), lost_data(false), inputs_overridden(false), rerun(false), seceded(false),
        multi_output(false), parked(false), stolen(false), no_inputs(false), no_consumers(false) {}
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
  std::uint32_t plan = 0;            // its index within the plan is its place in Plan::records
  std::uint32_t unfinished_inputs = 0;
  std::uint32_t holds = 0;           // unfinished consumers + client futures: >0 keeps the result
  std::uint32_t keeps = 0;           // client futures alone
  WorkerId worker = no_worker;       // while assigned/running
  std::int32_t priority = 0;         // longest path to a sink: critical path first
  std::int64_t ready_us = -1;        // when it became ready (scheduler clock); -1: chained, never queued
  std::uint64_t size = 0;
  std::uint64_t length = 0;
  WorkerSet locations;               // workers that hold the result
};
// The server holds one per task: a field added here costs a million plans' worth of memory.
static_assert(sizeof(TaskRecord) == 64, "TaskRecord grew");

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
