#pragma once
// Identifiers shared by the server, workers and clients.
#include <cstdint>

namespace treadle {

// Server-assigned, dense: the index of the task in the server's task table.
using TaskId = std::uint64_t;
using WorkerId = std::uint32_t;
using ClientId = std::uint32_t;

constexpr WorkerId no_worker = ~WorkerId{0};

// A data object: output `k` of task `t` is t | k << 40 (Rain's (task, output) pairs). Output 0
// of a task is the task's own id, so a one-output task (HyperLoom's) is named as before, and
// every message naming objects (fetch, free, peer_fetch, data) names them by this one number.
using ObjectId = std::uint64_t;
constexpr int output_shift = 40;
constexpr std::uint64_t task_mask = (std::uint64_t{1} << output_shift) - 1;
constexpr std::uint32_t max_outputs = 1u << 16;  // outputs of one task (bits 40..55 of an ObjectId)

constexpr TaskId task_of(ObjectId object) { return object & task_mask; }
constexpr std::uint32_t output_of(ObjectId object) { return static_cast<std::uint32_t>(object >> output_shift); }
constexpr ObjectId object_id(TaskId task, std::uint32_t output) {
  return task | (static_cast<std::uint64_t>(output) << output_shift);
}

}  // namespace treadle
