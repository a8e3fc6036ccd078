#pragma once
// Identifiers shared by the server, workers and clients.
#include <cstdint>

namespace treadle {

// Server-assigned, dense: the index of the task in the server's task table.
using TaskId = std::uint64_t;
using WorkerId = std::uint32_t;
using ClientId = std::uint32_t;

constexpr WorkerId no_worker = ~WorkerId{0};

// A data object is an output of a task. HyperLoom tasks have one output (slot 0);
// the model keeps the slot so Rain-style tasks with several outputs fit later.
struct DataRef {
  TaskId task = 0;
  std::uint32_t slot = 0;
  bool operator==(const DataRef& o) const { return task == o.task && slot == o.slot; }
};

}  // namespace treadle
