#include "task_checks.hpp"

#include <system_error>

namespace treadle::builtin {

namespace {
std::string count_of(std::size_t n, const char* singular, const char* plural) {
  return std::to_string(n) + " " + (n == 1 ? singular : plural);
}
}  // namespace

void fail_shape(std::string_view symbol, std::string_view expectation, const TaskContext& ctx) {
  throw TaskFailure(std::string(symbol) + " expects " + std::string(expectation) + ", got " +
                    count_of(ctx.inputs.size(), "input", "inputs") + " and " +
                    count_of(ctx.config.size(), "config byte", "config bytes"));
}

void expect_shape(std::string_view symbol, std::string_view expectation, const TaskContext& ctx,
                  std::size_t inputs, std::size_t config_bytes) {
  if (ctx.inputs.size() != inputs || ctx.config.size() != config_bytes) fail_shape(symbol, expectation, ctx);
}

std::string_view dobject_input(std::string_view symbol, const TaskContext& ctx, std::size_t i,
                               std::string_view role) {
  const DataPtr& input = ctx.inputs.at(i);
  if (!input->is_dobject()) {
    std::string which = "input " + std::to_string(i);
    if (!role.empty()) which += " (" + std::string(role) + ")";
    throw TaskFailure(std::string(symbol) + " expects plain or file inputs, " + which + " is " +
                      input->describe());
  }
  return input->raw();
}

std::string errno_text(int error) { return std::generic_category().message(error); }

std::uint64_t read_u64_le(std::string_view bytes, std::size_t offset) {
  std::uint64_t value = 0;
  for (int i = 7; i >= 0; --i)
    value = (value << 8) | static_cast<unsigned char>(bytes.at(offset + static_cast<std::size_t>(i)));
  return value;
}

std::string u64_le(std::uint64_t value) {
  std::string out(8, '\0');
  for (std::size_t i = 0; i < 8; ++i) out[i] = static_cast<char>((value >> (8 * i)) & 0xff);
  return out;
}

}  // namespace treadle::builtin
