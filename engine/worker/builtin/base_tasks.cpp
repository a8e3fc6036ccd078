// The loom/base/* tasks: picking pieces of arrays and indexes, measuring objects, sleeping.
#include <charconv>
#include <chrono>
#include <cmath>
#include <thread>

#include "../../common/symbols.hpp"
#include "../../data/plain.hpp"
#include "../cancellation.hpp"
#include "builtin.hpp"
#include "task_checks.hpp"

namespace treadle::builtin {

namespace {

// get and slice work on objects with inner pieces; anything else is a plan error worth naming.
void expect_pieces(std::string_view symbol, const TaskContext& ctx) {
  auto kind = ctx.inputs[0]->kind();
  if (kind != DataKind::array && kind != DataKind::index)
    throw TaskFailure(std::string(symbol) + " expects an array or an index, got " + ctx.inputs[0]->describe());
}

DataPtr get_task(TaskContext& ctx) {
  expect_shape(symbols::get, "1 input and an 8-byte index", ctx, 1, 8);
  expect_pieces(symbols::get, ctx);
  return ctx.inputs[0]->get(read_u64_le(ctx.config));
}

DataPtr slice_task(TaskContext& ctx) {
  expect_shape(symbols::slice, "1 input and a 16-byte range (start, end)", ctx, 1, 16);
  expect_pieces(symbols::slice, ctx);
  return ctx.inputs[0]->slice(read_u64_le(ctx.config, 0), read_u64_le(ctx.config, 8));
}

DataPtr size_task(TaskContext& ctx) {
  expect_shape(symbols::size, "1 input and an empty config", ctx, 1, 0);
  return PlainData::from_string(u64_le(ctx.inputs[0]->size()));
}

DataPtr length_task(TaskContext& ctx) {
  expect_shape(symbols::length, "1 input and an empty config", ctx, 1, 0);
  return PlainData::from_string(u64_le(ctx.inputs[0]->length()));
}

// Longer sleeps would overflow the nanosecond clock; nobody means them.
constexpr double max_sleep_seconds = 1e9;

DataPtr sleep_task(TaskContext& ctx) {
  const char* expectation = "0 or 1 input and a duration in seconds (e.g. \"0.25\")";
  if (ctx.inputs.size() > 1 || ctx.config.empty()) fail_shape(symbols::sleep, expectation, ctx);
  double seconds = 0;
  auto [end, error] = std::from_chars(ctx.config.data(), ctx.config.data() + ctx.config.size(), seconds);
  if (error != std::errc() || end != ctx.config.data() + ctx.config.size() || !std::isfinite(seconds) ||
      seconds < 0 || seconds > max_sleep_seconds)
    throw TaskFailure(std::string(symbols::sleep) + " expects a duration between 0 and 1e9 seconds, got '" +
                      std::string(ctx.config) + "'");
  if (!cancellation::sleep_for(ctx.id, seconds)) throw TaskFailure("cancelled");
  return ctx.inputs.empty() ? PlainData::from_string({}) : ctx.inputs[0];
}

}  // namespace

void register_base_tasks(TaskRegistry& registry) {
  registry.add(std::string(symbols::get), get_task, Threading::inline_on_loop);
  registry.add(std::string(symbols::slice), slice_task, Threading::inline_on_loop);
  registry.add(std::string(symbols::size), size_task, Threading::inline_on_loop);
  registry.add(std::string(symbols::length), length_task, Threading::inline_on_loop);
  registry.add(std::string(symbols::sleep), sleep_task, Threading::own_thread);
}

}  // namespace treadle::builtin
