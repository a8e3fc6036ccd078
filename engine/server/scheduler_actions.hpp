#pragma once
// What the scheduler asks of the outside world. The server turns these into messages
// (batched per worker per loop turn); unit tests record them instead.
#include <string>

#include "../common/ids.hpp"
#include "task_state.hpp"

namespace treadle {

class SchedulerActions {
 public:
  virtual ~SchedulerActions() = default;
  // Run `task` on `worker`; its inputs are there, will be fetched from their holders,
  // or are being computed on that same worker (a chain).
  virtual void assign(WorkerId worker, TaskId task) = 0;
  virtual void cancel(WorkerId worker, TaskId task) = 0;
  virtual void free_data(WorkerId worker, TaskId task) = 0;
  // `worker` holds object `from`; it must hold it as `to` too (a redirected task's result).
  virtual void alias(WorkerId worker, TaskId from, TaskId to) {}
  // `to` must fetch `object` from `from` and keep it (a retiring worker hands off its objects);
  // it reports the copy like any fetched input (Scheduler::data_replicated).
  virtual void replicate(WorkerId to, ObjectId object, WorkerId from) {}
  // Ask `victim` to give `task` back (it is queued there, not started, as far as the scheduler
  // knows): it answers which of the tasks it was asked for it removed (Scheduler::tasks_given_back).
  virtual void steal(WorkerId victim, TaskId task) {}
  // A task that clients hold futures for reached an end state.
  virtual void kept_finished(TaskId task) = 0;
  virtual void kept_failed(TaskId task) = 0;
  // A task that no client holds a future for finished or failed (`end`): an inner task, or one
  // whose futures were all released while a consumer still needed it, so it ran on. A wait,
  // fetch or watch made before that release hears of its end now (the server's watchers).
  virtual void unkept_ended(TaskId task, TaskState end) {}
  // A task was cancelled (nobody needed it before it finished: it never will), held by a
  // client's future or not: whoever waits on its end hears it now (the server's watchers).
  virtual void task_cancelled(TaskId task) {}
};

}  // namespace treadle
