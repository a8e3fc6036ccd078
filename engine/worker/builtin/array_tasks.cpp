// The loom/array/* tasks.
#include "../../common/symbols.hpp"
#include "../../data/array.hpp"
#include "builtin.hpp"
#include "task_checks.hpp"

namespace treadle::builtin {

namespace {

DataPtr array_make_task(TaskContext& ctx) {
  if (!ctx.config.empty()) fail_shape(symbols::array_make, "any inputs and an empty config", ctx);
  return std::make_shared<ArrayData>(ctx.inputs);
}

}  // namespace

void register_array_tasks(TaskRegistry& registry) {
  registry.add(std::string(symbols::array_make), array_make_task, Threading::inline_on_loop);
}

}  // namespace treadle::builtin
