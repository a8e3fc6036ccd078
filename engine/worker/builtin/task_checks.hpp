#pragma once
// Checks and encodings the built-in tasks share, so that every task reports a wrong shape
// of inputs or config with the same kind of message: what it expected and what it got.
#include <cstdint>
#include <string>
#include <string_view>

#include "../task_api.hpp"

namespace treadle::builtin {

// Throws TaskFailure "<symbol> expects <expectation>, got <N> inputs and <M> config bytes".
[[noreturn]] void fail_shape(std::string_view symbol, std::string_view expectation, const TaskContext& ctx);

// Fails with fail_shape unless the task got exactly `inputs` inputs and `config_bytes` config bytes.
void expect_shape(std::string_view symbol, std::string_view expectation, const TaskContext& ctx,
                  std::size_t inputs, std::size_t config_bytes);

// The content of input `i`; a TaskFailure naming the task and the kind it got unless the
// input is a D-object. `role` (optional) says, as the user would, what that input is for:
// "'data.txt'", "stdin"; the message shows it in parentheses.
std::string_view dobject_input(std::string_view symbol, const TaskContext& ctx, std::size_t i,
                               std::string_view role = {});

// The text of an errno value (thread-safe, same wording as strerror).
std::string errno_text(int error);

// Unsigned 64-bit integers travel as 8 little-endian bytes in configs and results.
std::uint64_t read_u64_le(std::string_view bytes, std::size_t offset = 0);
std::string u64_le(std::uint64_t value);

}  // namespace treadle::builtin
