#pragma once
// A submitted plan, kept for the lifetime of its tasks: configs, inputs and consumers are
// stored once per submission in flat arrays (CSR), not per task, to keep the server small
// at a million tasks. Tasks of a plan have the dense ids [base, base + size).
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "../common/ids.hpp"
#include "task_record.hpp"

namespace treadle {

// The outputs a task declares, when not the one unnamed output of HyperLoom's tasks: how many
// (zero or more), and each one's label and content type (Rain's). Listed only for such tasks.
struct OutputSpecs {
  std::vector<std::string> labels;         // one per output ("" : none)
  std::vector<std::string> content_types;  // one per output ("" : none)
  std::uint32_t count() const { return static_cast<std::uint32_t>(labels.size()); }
};

struct Plan {
  ClientId client = 0;
  TaskId base = 0;
  std::uint32_t size = 0;
  std::vector<TaskRecord> records;  // its tasks (TaskTable)
  std::vector<TaskDetails> details;  // the rest of each, by the same index (TaskRecord says why apart)
  std::uint32_t unsettled = 0;      // tasks neither released nor failed: the plan is in use
  std::int64_t submitted_us = 0;    // scheduler clock: the first line of its tasks' stories

  std::string configs;                       // all configs, back to back (under max_plan_configs)
  std::vector<std::uint32_t> config_offsets;  // size + 1: 4 bytes, not the wire's 8, per task
  std::vector<TaskId> inputs;                // global ids
  std::vector<std::uint32_t> input_offsets;  // size + 1
  std::vector<std::uint32_t> consumers;      // local indices within this plan (later plans: Scheduler::extra_consumers_)
  std::vector<std::uint32_t> consumer_offsets;
  std::vector<std::string> labels;            // distinct labels; labels[0] == ""
  std::vector<std::uint32_t> label_of;        // per task, into labels; empty when no task has one
  std::unordered_map<std::uint32_t, OutputSpecs> outputs;  // by local index; absent: one output

  std::string_view config(std::uint32_t local) const {
    return std::string_view(configs).substr(config_offsets[local], config_offsets[local + 1] - config_offsets[local]);
  }
  const TaskId* inputs_begin(std::uint32_t local) const { return inputs.data() + input_offsets[local]; }
  const TaskId* inputs_end(std::uint32_t local) const { return inputs.data() + input_offsets[local + 1]; }
  // Local indices: the consumer's id is base + index.
  const std::uint32_t* consumers_begin(std::uint32_t local) const { return consumers.data() + consumer_offsets[local]; }
  const std::uint32_t* consumers_end(std::uint32_t local) const { return consumers.data() + consumer_offsets[local + 1]; }
  const std::string& label(std::uint32_t local) const { return labels[label_of.empty() ? 0 : label_of[local]]; }
  const OutputSpecs* output_specs(std::uint32_t local) const {
    if (outputs.empty()) return nullptr;
    auto it = outputs.find(local);
    return it == outputs.end() ? nullptr : &it->second;
  }
  std::uint32_t output_count(std::uint32_t local) const {
    const OutputSpecs* specs = output_specs(local);
    return specs ? specs->count() : 1;
  }
};

// The configs of one plan take less than 4 GiB (Plan::config_offsets are 4 bytes); a bigger
// plan is refused, with a message saying to split it.
inline constexpr std::uint64_t max_plan_configs = (std::uint64_t{1} << 32) - 1;

// What a client sends, before ids are given: inputs name earlier tasks of the same plan
// (flagged with plan_local_bit) or tasks of earlier plans (their global id), and which of its
// outputs (output << output_shift, as in an ObjectId; 0: the first).
inline constexpr std::uint64_t plan_local_bit = std::uint64_t{1} << 63;
// In a redirect plan only: the redirected task's own input at this position.
inline constexpr std::uint64_t redirect_input_bit = std::uint64_t{1} << 62;

struct PlanRequest {
  std::vector<std::string> types;          // distinct task types
  std::vector<std::uint32_t> type_of;      // per task
  std::vector<std::uint32_t> cpus;         // per task, 0 = light
  std::vector<std::uint32_t> input_counts;  // per task
  std::vector<std::uint64_t> inputs;        // flattened
  std::vector<std::uint64_t> config_offsets;  // size + 1
  std::string configs;
  std::vector<std::string> labels;
  std::vector<std::uint32_t> label_of;
  std::vector<std::uint32_t> keep;          // indices the client holds futures for (every output)
  std::unordered_map<std::uint32_t, OutputSpecs> outputs;  // tasks not of one unnamed output
};

// A task of a submitted plan with a checkpoint file (HyperLoom's task.checkpoint_path).
struct PlanCheckpoint {
  std::uint32_t local;  // index in the plan
  std::string path;     // absolute
};

}  // namespace treadle
