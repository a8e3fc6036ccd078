#pragma once
// Builds the `compute` batches of a loop turn, one worker after another, with one set of
// columns and indexes reused for every worker and every turn: with many workers a turn makes
// many small batches, and each of its own allocated its columns and hash maps anew.
#include <cstdint>
#include <vector>

#include "../common/batches.hpp"
#include "scheduler.hpp"

namespace treadle {

class ComputeBatchBuilder {
 public:
  explicit ComputeBatchBuilder(const Scheduler& scheduler) : scheduler_(scheduler) {}

  // Adds those of `tasks` still assigned to (or running on) `worker`, each input with where to
  // fetch it from. False if none was.
  bool add_tasks(WorkerId worker, const std::vector<TaskId>& tasks);
  // Objects the worker drops before it takes the tasks; `frees` is left empty.
  void add_frees(std::vector<ObjectId>& frees) { batch_.frees.swap(frees); }
  // The batch as a message; the builder is empty again (its memory kept) for the next worker.
  Message encode();

 private:
  std::uint32_t type_index(std::uint16_t type);
  std::uint32_t peer_index(WorkerId holder);

  const Scheduler& scheduler_;
  ComputeBatch batch_;
  std::vector<std::uint16_t> types_;            // scheduler type of batch_.types[i]
  std::vector<std::uint32_t> peer_slot_;        // per worker: its index in batch_.peers + 1, 0: none
  std::vector<WorkerId> peers_;                 // the workers in batch_.peers, to reset their slots
};

}  // namespace treadle
