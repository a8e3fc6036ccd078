#pragma once
// Internal to the built-in tasks: each file registers its own task types, and
// register_builtin_tasks (register_builtins.cpp) calls them all.
#include "../task_api.hpp"

namespace treadle::builtin {

void register_data_tasks(TaskRegistry& registry);   // const, merge, open, save, split
void register_base_tasks(TaskRegistry& registry);   // get, slice, size, length, sleep
void register_array_tasks(TaskRegistry& registry);  // array_make
void register_run_task(TaskRegistry& registry);     // run (external programs)
void register_python_tasks(TaskRegistry& registry); // py_value (py_call runs in executors)
void register_directory_tasks(TaskRegistry& registry);  // Rain's make/slice_directory, load(_dir), store

// Writes `bytes` to `path` (created or truncated); throws TaskFailure saying what failed.
void write_file(const std::string& path, std::string_view bytes);

}  // namespace treadle::builtin
