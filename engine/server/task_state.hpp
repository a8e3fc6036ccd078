#pragma once
// The life of a task in the scheduler. Every change goes through Scheduler::transition(),
// which looks the (from, to) pair up in a table of small functions (transitions.cpp) and
// records it in the transition log, so "why is this task here?" has an answer.
//
//   waiting  --inputs finished-->  ready  --placed-->  assigned  --worker started it--> running
//   waiting  --its inputs are being computed on that same worker--> assigned (a chain)
//   assigned/running --result reported--> finished --no one needs it--> released
//   any unfinished --it or an input failed, or no worker can run it--> failed
//   assigned/running/ready --worker lost or an input lost--> waiting/ready (recomputed)
//   finished/released --data lost but still needed--> waiting (recomputed from the plan)
//   waiting/ready/assigned/running/redirected --nobody wants it any more--> cancelled (never finished)
//   cancelled --a lost result needs it again--> waiting (recomputed from the plan)
//   running --its Python function returned a Task--> redirected --that plan finished--> finished
#include <cstdint>

namespace treadle {

// cancelled comes last: the codes of the others stay as they were on the wire.
enum class TaskState : std::uint8_t {
  waiting, ready, assigned, running, redirected, finished, failed, released, cancelled
};
inline constexpr int task_state_count = 9;

const char* state_name(TaskState state);

}  // namespace treadle
