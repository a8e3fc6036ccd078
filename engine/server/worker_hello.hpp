#pragma once
// What a worker announces when it joins, checked: a peer's hello must not make a worker of
// -1 cpus (read as 4294967295) or of an address no other worker can reach.
#include <cstdint>
#include <string>
#include <vector>

#include "../common/protocol.hpp"

namespace treadle {

// As treadle-worker's --cpus; a task asking for more could run nowhere.
inline constexpr std::uint32_t max_worker_cpus = 4096, max_task_cpus = max_worker_cpus;

struct WorkerHello {
  std::uint32_t cpus = 0;
  std::string data_address;        // tcp://HOST:PORT
  std::vector<std::string> types;  // symbols it offers
};

// Throws ProtocolError naming the field that is wrong.
WorkerHello check_worker_hello(const json& header);

}  // namespace treadle
