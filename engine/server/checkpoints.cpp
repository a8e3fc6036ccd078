// Checkpoints (HyperLoom's task.checkpoint_path), decided when a plan arrives:
//
// - the file exists: the task loads it (it becomes loom/data/open of the file, a D-object)
//   and no longer uses its inputs, so an input nobody else needs is cancelled, never run;
// - it does not: the task runs as planned and the worker writes its result to the file
//   (through a temporary file renamed into place, so no partial file is ever seen).
#include <sys/stat.h>

#include "../common/symbols.hpp"
#include "scheduler.hpp"

namespace treadle {

namespace {
bool is_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
}  // namespace

void Scheduler::use_checkpoints(TaskId base, const std::vector<PlanCheckpoint>& checkpoints) {
  if (checkpoints.empty()) return;
  const Plan& plan = tasks_.plan(base);
  const auto open = intern_type(std::string(symbols::open));
  for (const PlanCheckpoint& c : checkpoints) {
    if (c.local >= plan.size) continue;  // decode_checkpoints refuses these
    const TaskId id = base + c.local;
    if (!is_file(c.path)) {
      checkpoint_writes_[id] = c.path;
      continue;
    }
    TaskRecord& t = tasks_[id];
    if (t.state != TaskState::waiting && t.state != TaskState::ready) continue;  // failed with an input
    std::vector<ObjectId> old_inputs(inputs_of(id).begin(), inputs_of(id).end());
    input_override_[id] = {};
    config_override_[id] = c.path;
    t.inputs_overridden = true;
    t.type = open;
    if (t.state == TaskState::waiting) {
      t.cpus = 0;  // opening a file is light (a ready task is queued by its cpus already)
      t.unfinished_inputs = 0;
      transition(id, TaskState::ready, "its checkpoint file exists: loaded, not computed");
    }
    for (ObjectId in : old_inputs) drop_hold(in);
  }
}

const std::string* Scheduler::checkpoint_to_write(TaskId id) const {
  if (checkpoint_writes_.empty()) return nullptr;
  auto it = checkpoint_writes_.find(id);
  return it == checkpoint_writes_.end() ? nullptr : &it->second;
}

}  // namespace treadle
