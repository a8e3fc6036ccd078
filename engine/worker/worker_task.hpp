#pragma once
// A task the server assigned to this worker, as the worker's task state keeps it, and the
// states it goes through here (the server has its own, coarser view: server/task_state.hpp).
//
//   waiting ──inputs here──▶ ready ──cpus/executor free──▶ on_thread ───────▶ (finished or failed: forgotten)
//                              │                           on_executor ◀──▶ seceded
//                              └──light──▶ runs inline on the loop ──────────▶ (finished or failed: forgotten)
//
// A cancelled task is forgotten at once; one cancelled on a thread leaves its cpus held until
// the thread ends (WorkerState's abandoned runs), since a thread cannot be stopped.
#include <cstdint>
#include <string>
#include <vector>

#include "../common/ids.hpp"

namespace treadle {

enum class WorkerTaskState : std::uint8_t {
  waiting,      // some input is not here yet (being fetched, or computed here first)
  ready,        // inputs here; queued until its cpus or an executor are free
  on_thread,    // running on the thread pool, holding its cpus
  on_executor,  // a Python task in an executor's slot (or its pipe), holding its cpus
  seceded,      // a Python task waiting on tasks it submitted: out of the slot, cpus given back
};

inline const char* state_name(WorkerTaskState s) {
  switch (s) {
    case WorkerTaskState::waiting: return "waiting";
    case WorkerTaskState::ready: return "ready";
    case WorkerTaskState::on_thread: return "on_thread";
    case WorkerTaskState::on_executor: return "on_executor";
    case WorkerTaskState::seceded: return "seceded";
  }
  return "?";
}

struct WorkerTask {
  WorkerTaskState state = WorkerTaskState::waiting;
  std::string type;
  std::string config;
  std::uint32_t cpus = 0;
  std::vector<TaskId> inputs;
  std::uint32_t missing = 0;  // inputs not here yet, each counted once (merge((a, a)) waits for a once)
  std::string checkpoint;     // write the result there too (HyperLoom's checkpoint_path)
  // Outputs declared (Rain's): with other than one, the result must be an array of that many
  // items, each kept as its own object, object_id(task, k).
  std::uint32_t outputs = 1;

  // Holds its cpus: counted in WorkerState::cpus_held().
  bool holds_cpus() const { return state == WorkerTaskState::on_thread || state == WorkerTaskState::on_executor; }
};

}  // namespace treadle
