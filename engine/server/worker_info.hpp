#pragma once
// What the scheduler knows of a connected worker.
#include <cstdint>
#include <string>
#include <vector>

#include "../common/ids.hpp"

namespace treadle {

struct WorkerInfo {
  WorkerId id = 0;
  std::string name;          // host:pid, for messages
  std::string data_address;  // where other workers fetch its objects (tcp://host:port)
  std::uint32_t cpus = 1;
  std::uint32_t free_cpus = 1;
  std::uint32_t light_tasks = 0;     // light tasks assigned and not yet finished
  std::vector<bool> offers_type;     // indexed by the scheduler's type ids
  bool alive = true;
  std::uint64_t tasks_done = 0;
};

}  // namespace treadle
