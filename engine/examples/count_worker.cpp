// An extended worker: the built-ins plus one own task type, "my/count", which counts the
// occurrences of a character (the config) in a D-object and returns the count as 8 bytes
// (little-endian). The example of docs/extending.md; the tests run it.
#include <cstdint>
#include <cstring>

#include "data/plain.hpp"
#include "worker/task_api.hpp"
#include "worker/worker_main.hpp"

namespace {

class CountTask : public treadle::TaskImpl {
 public:
  treadle::DataPtr run(treadle::TaskContext& ctx) override {
    if (ctx.inputs.size() != 1 || ctx.config.size() != 1)
      throw treadle::TaskFailure("my/count expects 1 input and a 1-byte config, got " +
                                 std::to_string(ctx.inputs.size()) + " inputs and " +
                                 std::to_string(ctx.config.size()) + " config bytes");
    if (!ctx.inputs[0]->is_dobject())
      throw treadle::TaskFailure("my/count needs a plain or file object, got " + ctx.inputs[0]->describe());
    const char c = ctx.config[0];
    std::uint64_t count = 0;
    for (char byte : ctx.inputs[0]->raw()) count += byte == c;
    std::string result(sizeof count, '\0');
    std::memcpy(result.data(), &count, sizeof count);
    return treadle::PlainData::from_string(std::move(result));
  }
};

}  // namespace

int main(int argc, char** argv) {
  treadle::TaskRegistry registry;
  treadle::register_builtin_tasks(registry);
  registry.add<CountTask>("my/count", treadle::Threading::inline_if_small);
  return treadle::run_worker_main(argc, argv, std::move(registry));
}
