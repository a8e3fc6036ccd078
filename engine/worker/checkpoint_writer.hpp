#pragma once
// Writing a task's result to its checkpoint file (HyperLoom's task.checkpoint_path).
#include <string>

#include "../common/ids.hpp"
#include "../data/data.hpp"

namespace treadle {

// Writes the D-object `result` of `task` to `path` through a temporary file in the same
// directory, renamed into place: readers see the whole file or none. Throws TaskFailure.
void write_checkpoint(const std::string& path, TaskId task, const DataPtr& result);

}  // namespace treadle
