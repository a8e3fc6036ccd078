#include "wire_plan.hpp"

#include "../common/message_fields.hpp"
#include "worker_hello.hpp"

namespace treadle {

PlanRequest decode_plan(Message& m) {
  if (m.frames.size() != sf_count) throw ProtocolError("submit needs " + std::to_string(sf_count) + " frames");
  PlanRequest r;
  r.types = fields::texts(m.header, "types", fields::max_ids, fields::max_name);
  r.labels = fields::texts(m.header, "labels", fields::max_ids, fields::max_path);
  r.type_of = column_of<std::uint32_t>(m.frames[sf_type_of]);
  r.cpus = column_of<std::uint32_t>(m.frames[sf_cpus]);
  r.input_counts = column_of<std::uint32_t>(m.frames[sf_input_counts]);
  r.inputs = column_of<std::uint64_t>(m.frames[sf_inputs]);
  r.config_offsets = column_of<std::uint64_t>(m.frames[sf_config_offsets]);
  r.configs = m.frames[sf_configs].to_string();
  r.label_of = column_of<std::uint32_t>(m.frames[sf_label_of]);
  r.keep = column_of<std::uint32_t>(m.frames[sf_keep]);
  for (auto t : r.type_of)
    if (t >= r.types.size()) throw ProtocolError("task type index out of range");
  for (auto c : r.cpus)
    if (c > max_task_cpus)
      throw ProtocolError("a task asks for " + std::to_string(c) + " cpus (at most " + std::to_string(max_task_cpus) + ")");
  return r;
}

std::vector<PlanCheckpoint> decode_checkpoints(const Message& m, std::size_t tasks) {
  std::vector<PlanCheckpoint> out;
  auto it = m.header.find("checkpoints");
  if (it == m.header.end()) return out;
  try {
    for (auto& entry : *it) {
      PlanCheckpoint c{entry.at(0).get<std::uint32_t>(), entry.at(1).get<std::string>()};
      if (c.local >= tasks) throw ProtocolError("checkpoint of task " + std::to_string(c.local) + ", which the plan has not");
      // The server and the workers resolve it: a relative path would mean different files.
      if (c.path.empty() || c.path.front() != '/')
        throw ProtocolError("checkpoint path '" + c.path + "' is not absolute");
      out.push_back(std::move(c));
    }
  } catch (const json::exception& e) {
    throw ProtocolError(std::string("submit checkpoints: ") + e.what());
  }
  return out;
}

}  // namespace treadle
