#pragma once
// Identifiers shared by the server, workers and clients.
#include <cstdint>

namespace treadle {

// Server-assigned, dense: the index of the task in the server's task table.
using TaskId = std::uint64_t;
using WorkerId = std::uint32_t;
using ClientId = std::uint32_t;

constexpr WorkerId no_worker = ~WorkerId{0};

}  // namespace treadle
