#include "task_state.hpp"

namespace treadle {

const char* state_name(TaskState state) {
  switch (state) {
    case TaskState::waiting: return "waiting";
    case TaskState::ready: return "ready";
    case TaskState::assigned: return "assigned";
    case TaskState::running: return "running";
    case TaskState::redirected: return "redirected";
    case TaskState::finished: return "finished";
    case TaskState::failed: return "failed";
    case TaskState::released: return "released";
    case TaskState::cancelled: return "cancelled";
  }
  return "?";
}

}  // namespace treadle
