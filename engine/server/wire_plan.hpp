#pragma once
// The plan columns of a "submit" message (see docs/protocol.md), and the compute batches the
// server sends to workers. Both are columns in bulk frames: a million-task plan is a dozen
// frames, not a million msgpack maps.
#include "../common/protocol.hpp"
#include "plan.hpp"

namespace treadle {

enum SubmitFrame { sf_type_of, sf_cpus, sf_input_counts, sf_inputs, sf_config_offsets, sf_configs, sf_label_of, sf_keep, sf_count };

// Throws ProtocolError on a malformed message (the scheduler checks the plan's meaning).
PlanRequest decode_plan(Message& message);
// The optional "checkpoints" of a submit header, [[plan index, absolute path], ...], for a plan
// of `tasks` tasks. Throws ProtocolError when one is malformed.
std::vector<PlanCheckpoint> decode_checkpoints(const Message& message, std::size_t tasks);
// The optional "outputs" of a submit (or redirect) header: [[plan index, [label...],
// [content type...]], ...] for the tasks that have not exactly one unnamed output.
std::unordered_map<std::uint32_t, OutputSpecs> decode_outputs(const Message& message, std::size_t tasks);

}  // namespace treadle
