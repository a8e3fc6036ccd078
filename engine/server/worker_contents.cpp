#include "worker_contents.hpp"

#include "scheduler.hpp"

namespace treadle {

std::unordered_map<WorkerId, WorkerContents> worker_contents(const Scheduler& scheduler) {
  std::unordered_map<WorkerId, WorkerContents> out;
  const TaskId end = static_cast<TaskId>(scheduler.task_count());
  for (TaskId id = 0; id < end; ++id) {
    if (!scheduler.exists(id)) continue;  // its plan was freed
    const TaskRecord& t = scheduler.task(id);
    if ((t.state == TaskState::assigned || t.state == TaskState::running) && t.worker != no_worker)
      out[t.worker].tasks.push_back(id);
    const std::uint32_t outputs = scheduler.output_count(id);
    for (std::uint32_t k = 0; k < outputs; ++k) {
      const ObjectId object = object_id(id, k);
      for (WorkerId w : scheduler.locations(object)) out[w].objects.push_back(object);
    }
  }
  return out;
}

}  // namespace treadle
