#pragma once
// main() of a worker program: `return treadle::run_worker_main(argc, argv, std::move(registry));`
// with a registry holding the built-ins (register_builtin_tasks) and any own task types.
#include "task_api.hpp"

namespace treadle {

int run_worker_main(int argc, char** argv, TaskRegistry registry);

}  // namespace treadle
