#pragma once
// "Why is this task not running?" (HyperQueue's `explain`), from the scheduler's state at the
// moment of asking: the inputs it waits for, a request no connected worker can meet, no
// workers at all, busy workers, or a worker that has it queued.
#include <string>

#include "../common/ids.hpp"

namespace treadle {

class Scheduler;
struct TaskRecord;

// One line for a task that waits (waiting, ready, assigned, redirected); empty for a task that
// runs, has ended, or does not exist.
std::string why_not_running(const Scheduler& scheduler, TaskId task);

// Why no connected worker could ever run the task ("it needs 4 cpus; the largest worker has 1",
// "no workers are connected"), or empty when one could.
std::string why_no_worker_can_run(const Scheduler& scheduler, const TaskRecord& task);

}  // namespace treadle
