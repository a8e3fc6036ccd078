// loom/py/value: a Python object as a constant. The config is the object's size (u64,
// sys.getsizeof as measured by the client), its len() if it is a sequence (u64; 2^64-1 if
// not), then its pickle; no Python runs here.
#include "../../common/symbols.hpp"
#include "../../data/plain.hpp"
#include "../../data/pyobj.hpp"
#include "builtin.hpp"
#include "task_checks.hpp"

namespace treadle::builtin {

namespace {
DataPtr py_value(TaskContext& ctx) {
  if (!ctx.inputs.empty() || ctx.config.size() < 16)
    fail_shape(symbols::py_value, "no inputs and a config of 8 size bytes, 8 length bytes and a pickle", ctx);
  std::uint64_t size = read_u64_le(ctx.config);
  std::uint64_t sequence_length = read_u64_le(ctx.config, 8);
  return std::make_shared<PyObjData>(PlainData::from_string(std::string(ctx.config.substr(16))), size, sequence_length);
}
}  // namespace

void register_python_tasks(TaskRegistry& registry) {
  registry.add(std::string(symbols::py_value), py_value, Threading::inline_on_loop);
}

}  // namespace treadle::builtin
