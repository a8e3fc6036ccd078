#include "wire_plan.hpp"

#include "../common/message_fields.hpp"
#include "worker_hello.hpp"

namespace treadle {

PlanRequest decode_plan(Message& m) {
  if (m.frames.size() != sf_count) throw ProtocolError("submit needs " + std::to_string(sf_count) + " frames");
  PlanRequest r;
  r.types = fields::texts(m.header, "types", fields::max_ids, fields::max_name);
  r.labels = fields::texts(m.header, "labels", fields::max_ids, fields::max_path);
  // Each frame is dropped once copied: the message and its decoded columns are never whole
  // side by side (at a million tasks each is tens of MB).
  auto take = [&](SubmitFrame f, auto& column) {
    column = take_column<typename std::remove_reference_t<decltype(column)>::value_type>(m.frames[f]);
  };
  take(sf_type_of, r.type_of);
  take(sf_cpus, r.cpus);
  take(sf_input_counts, r.input_counts);
  take(sf_inputs, r.inputs);
  take(sf_config_offsets, r.config_offsets);
  r.configs = m.frames[sf_configs].to_string();
  m.frames[sf_configs] = zmq::message_t();
  take(sf_label_of, r.label_of);
  take(sf_keep, r.keep);
  for (auto t : r.type_of)
    if (t >= r.types.size()) throw ProtocolError("task type index out of range");
  for (auto c : r.cpus)
    if (c > max_task_cpus)
      throw ProtocolError("a task asks for " + std::to_string(c) + " cpus (at most " + std::to_string(max_task_cpus) + ")");
  r.outputs = decode_outputs(m, r.type_of.size());
  return r;
}

std::unordered_map<std::uint32_t, OutputSpecs> decode_outputs(const Message& m, std::size_t tasks) {
  std::unordered_map<std::uint32_t, OutputSpecs> out;
  auto it = m.header.find("outputs");
  if (it == m.header.end()) return out;
  if (!it->is_array() || it->size() > tasks)
    throw ProtocolError("field 'outputs' must be a list of [task index, labels, content types], one per task at most");
  for (const json& entry : *it) {
    if (!entry.is_array() || entry.size() != 3 || !entry[0].is_number_unsigned())
      throw ProtocolError("field 'outputs' must be a list of [task index, labels, content types]");
    auto local = entry[0].get<std::uint64_t>();
    if (local >= tasks)
      throw ProtocolError("outputs of task " + std::to_string(local) + ", which the plan has not");
    auto texts = [&](const json& list, const char* what, std::size_t max_size) {
      std::vector<std::string> out;
      if (!list.is_array() || list.size() > max_outputs)
        throw ProtocolError("outputs of task " + std::to_string(local) + ": " + what + " must be a list of at most " +
                            std::to_string(max_outputs) + " strings");
      for (const json& v : list) {
        if (!v.is_string() || v.get_ref<const std::string&>().size() > max_size)
          throw ProtocolError("outputs of task " + std::to_string(local) + ": " + what + " must be strings of at most " +
                              std::to_string(max_size) + " bytes");
        out.push_back(v.get<std::string>());
      }
      return out;
    };
    OutputSpecs specs;
    specs.labels = texts(entry[1], "labels", fields::max_path);
    specs.content_types = texts(entry[2], "content types", fields::max_name);
    if (specs.labels.size() != specs.content_types.size())
      throw ProtocolError("outputs of task " + std::to_string(local) + ": " + std::to_string(specs.labels.size()) +
                          " labels but " + std::to_string(specs.content_types.size()) + " content types");
    if (!out.emplace(static_cast<std::uint32_t>(local), std::move(specs)).second)
      throw ProtocolError("outputs of task " + std::to_string(local) + " are listed twice");
  }
  return out;
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
