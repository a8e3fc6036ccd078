#pragma once
// What each worker has now, by id: the tasks placed there (assigned or running) and the data
// objects it holds. Rain's get_server_info() lists them per governor; a walk over every live
// task, so it is for a request now and then (status with `ids`), never a hot path.
#include <unordered_map>
#include <vector>

#include "../common/ids.hpp"

namespace treadle {

class Scheduler;

struct WorkerContents {
  std::vector<TaskId> tasks;      // assigned or running there, in id order
  std::vector<ObjectId> objects;  // held there (output k of task t is object_id(t, k)), in id order
};

std::unordered_map<WorkerId, WorkerContents> worker_contents(const Scheduler& scheduler);

}  // namespace treadle
