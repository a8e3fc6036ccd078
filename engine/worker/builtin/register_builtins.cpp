#include "builtin.hpp"

namespace treadle {

void register_builtin_tasks(TaskRegistry& registry) {
  builtin::register_data_tasks(registry);
  builtin::register_base_tasks(registry);
  builtin::register_array_tasks(registry);
  builtin::register_run_task(registry);
  builtin::register_python_tasks(registry);
  builtin::register_directory_tasks(registry);
}

}  // namespace treadle
