#include "batches.hpp"

#include "message_fields.hpp"

namespace treadle {

Message ComputeBatch::encode() && {
  Message m(json{{"op", op::compute}, {"types", types}, {"peers", peers}});
  if (!checkpoints.empty()) m.header["checkpoints"] = checkpoints;
  if (!outputs.empty()) m.header["outputs"] = outputs;
  m.frames.push_back(frame_of(std::move(ids)));
  m.frames.push_back(frame_of(std::move(type_of)));
  m.frames.push_back(frame_of(std::move(cpus)));
  m.frames.push_back(frame_of(std::move(input_counts)));
  m.frames.push_back(frame_of(std::move(inputs)));
  m.frames.push_back(frame_of(std::move(input_where)));
  m.frames.push_back(frame_of(std::move(config_offsets)));
  m.frames.push_back(frame_handing_over(std::move(configs)));
  m.frames.push_back(frame_of(std::move(frees)));
  return m;
}

void ComputeBatch::clear() {
  for (auto* names : {&types, &peers}) names->clear();
  for (auto* column : {&ids, &inputs, &frees}) column->clear();
  for (auto* column : {&type_of, &cpus, &input_counts, &input_where}) column->clear();
  config_offsets.assign(1, 0);
  configs.clear();
  checkpoints.clear();
  outputs.clear();
}

ComputeBatch ComputeBatch::decode(Message& m) {
  if (m.frames.size() != 9) throw ProtocolError("compute needs 9 frames");
  ComputeBatch b;
  try {
    b.types = m.header.at("types").get<std::vector<std::string>>();
    b.peers = m.header.at("peers").get<std::vector<std::string>>();
    b.checkpoints = m.header.value("checkpoints", std::vector<std::pair<TaskId, std::string>>{});
    b.outputs = m.header.value("outputs", std::vector<std::pair<TaskId, std::uint32_t>>{});
  } catch (const json::exception& e) {
    throw ProtocolError(std::string("compute header: ") + e.what());
  }
  b.ids = column_of<TaskId>(m.frames[0]);
  b.type_of = column_of<std::uint32_t>(m.frames[1]);
  b.cpus = column_of<std::uint32_t>(m.frames[2]);
  b.input_counts = column_of<std::uint32_t>(m.frames[3]);
  b.inputs = column_of<TaskId>(m.frames[4]);
  b.input_where = column_of<std::uint32_t>(m.frames[5]);
  b.config_offsets = column_of<std::uint64_t>(m.frames[6]);
  b.configs = m.frames[7].to_string();
  b.frees = column_of<ObjectId>(m.frames[8]);
  std::size_t n = b.ids.size();
  std::uint64_t total = 0;
  for (auto c : b.input_counts) total += c;
  if (b.type_of.size() != n || b.cpus.size() != n || b.input_counts.size() != n || b.inputs.size() != total ||
      b.input_where.size() != total || b.config_offsets.size() != n + 1 || b.config_offsets.back() != b.configs.size())
    throw ProtocolError("compute columns do not agree");
  if (b.frees.size() > fields::max_ids) throw ProtocolError("compute: too many objects to free");
  for (auto t : b.type_of)
    if (t >= b.types.size()) throw ProtocolError("compute type index out of range");
  for (auto w : b.input_where)
    if (w != local && w >= b.peers.size()) throw ProtocolError("compute peer index out of range");
  for (std::size_t i = 0; i < n; ++i)
    if (b.config_offsets[i] > b.config_offsets[i + 1]) throw ProtocolError("compute config offsets decrease");
  for (auto& [id, count] : b.outputs)
    if (count > max_outputs) throw ProtocolError("compute: task " + std::to_string(id) + " has too many outputs");
  return b;
}

Message FinishedBatch::encode() && {
  Message m(json{{"op", op::finished}, {"transfer_peers", transfer_peers}});
  m.frames.push_back(frame_of(ids));
  m.frames.push_back(frame_of(sizes));
  m.frames.push_back(frame_of(lengths));
  m.frames.push_back(frame_of(start_us));
  m.frames.push_back(frame_of(end_us));
  m.frames.push_back(frame_of(started));
  m.frames.push_back(frame_of(replicas));
  m.frames.push_back(frame_of(lanes));
  m.frames.push_back(frame_of(transfer_from));
  m.frames.push_back(frame_of(transfer_sizes));
  m.frames.push_back(frame_of(transfer_start_us));
  m.frames.push_back(frame_of(transfer_end_us));
  m.frames.push_back(frame_of(aliased));
  m.frames.push_back(frame_of(kinds));
  m.frames.push_back(frame_of(objects));
  m.frames.push_back(frame_of(object_sizes));
  m.frames.push_back(frame_of(object_lengths));
  m.frames.push_back(frame_of(object_kinds));
  return m;
}

FinishedBatch FinishedBatch::decode(Message& m) {
  if (m.frames.size() != 18) throw ProtocolError("finished needs 18 frames");
  FinishedBatch b;
  b.ids = take_column<TaskId>(m.frames[0]);
  b.sizes = take_column<std::uint64_t>(m.frames[1]);
  b.lengths = take_column<std::uint64_t>(m.frames[2]);
  b.start_us = take_column<std::int64_t>(m.frames[3]);
  b.end_us = take_column<std::int64_t>(m.frames[4]);
  b.started = take_column<TaskId>(m.frames[5]);
  b.replicas = take_column<TaskId>(m.frames[6]);
  b.lanes = take_column<std::uint32_t>(m.frames[7]);
  b.transfer_from = take_column<std::uint32_t>(m.frames[8]);
  b.transfer_sizes = take_column<std::uint64_t>(m.frames[9]);
  b.transfer_start_us = take_column<std::int64_t>(m.frames[10]);
  b.transfer_end_us = take_column<std::int64_t>(m.frames[11]);
  b.aliased = take_column<TaskId>(m.frames[12]);
  b.kinds = take_column<std::uint8_t>(m.frames[13]);
  b.objects = take_column<ObjectId>(m.frames[14]);
  b.object_sizes = take_column<std::uint64_t>(m.frames[15]);
  b.object_lengths = take_column<std::uint64_t>(m.frames[16]);
  b.object_kinds = take_column<std::uint8_t>(m.frames[17]);
  try {
    b.transfer_peers = m.header.value("transfer_peers", std::vector<std::string>{});
  } catch (const json::exception& e) {
    throw ProtocolError(std::string("finished header: ") + e.what());
  }
  std::size_t n = b.ids.size(), t = b.replicas.size();
  if (b.sizes.size() != n || b.lengths.size() != n || b.start_us.size() != n || b.end_us.size() != n ||
      b.lanes.size() != n || b.kinds.size() != n)
    throw ProtocolError("finished columns do not agree");
  const std::size_t o = b.objects.size();
  if (b.object_sizes.size() != o || b.object_lengths.size() != o || b.object_kinds.size() != o)
    throw ProtocolError("finished object columns do not agree");
  if (b.transfer_from.size() != t || b.transfer_sizes.size() != t || b.transfer_start_us.size() != t ||
      b.transfer_end_us.size() != t)
    throw ProtocolError("finished transfer columns do not agree");
  for (auto from : b.transfer_from)
    if (from >= b.transfer_peers.size()) throw ProtocolError("finished transfer peer index out of range");
  return b;
}

}  // namespace treadle
