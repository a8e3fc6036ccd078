#include "compute_batch_builder.hpp"

#include <algorithm>

namespace treadle {

bool ComputeBatchBuilder::add_tasks(WorkerId w, const std::vector<TaskId>& tasks) {
  ComputeBatch& b = batch_;
  const std::size_t before = b.ids.size();
  for (auto* column : {&b.type_of, &b.cpus, &b.input_counts}) column->reserve(before + tasks.size());
  b.ids.reserve(before + tasks.size());
  b.config_offsets.reserve(before + tasks.size() + 1);
  for (TaskId id : tasks) {
    const TaskRecord& t = scheduler_.task(id);
    if ((t.state != TaskState::assigned && t.state != TaskState::running) || t.worker != w) continue;
    b.ids.push_back(id);
    b.type_of.push_back(type_index(t.type));
    b.cpus.push_back(t.cpus);
    if (t.multi_output) b.outputs.emplace_back(id, scheduler_.output_count(id));
    std::uint32_t count = 0;
    scheduler_.for_each_input(id, [&](ObjectId in) {
      std::uint32_t where = ComputeBatch::local;
      if (scheduler_.has_data(in) && !scheduler_.object_at(in, w)) {
        // Not from a retiring worker when another has it: that one stays.
        const auto& holders = scheduler_.locations(in);
        WorkerId holder = holders.front();
        for (WorkerId h : holders)
          if (!scheduler_.worker(h)->retiring) {
            holder = h;
            break;
          }
        where = peer_index(holder);
      }
      b.inputs.push_back(in);
      b.input_where.push_back(where);
      ++count;
    });
    b.input_counts.push_back(count);
    auto config = scheduler_.config(id);
    b.configs.append(config.data(), config.size());
    b.config_offsets.push_back(b.configs.size());
    if (const std::string* path = scheduler_.checkpoint_to_write(id)) b.checkpoints.emplace_back(id, *path);
  }
  return b.ids.size() > before;
}

Message ComputeBatchBuilder::encode() {
  Message m = std::move(batch_).encode();
  batch_.clear();
  types_.clear();
  for (WorkerId p : peers_) peer_slot_[p] = 0;
  peers_.clear();
  return m;
}

// A batch has a few types: a walk beats a hash map made for each batch.
std::uint32_t ComputeBatchBuilder::type_index(std::uint16_t type) {
  auto it = std::find(types_.begin(), types_.end(), type);
  if (it != types_.end()) return static_cast<std::uint32_t>(it - types_.begin());
  types_.push_back(type);
  batch_.types.push_back(scheduler_.type_name(type));
  return static_cast<std::uint32_t>(types_.size() - 1);
}

std::uint32_t ComputeBatchBuilder::peer_index(WorkerId holder) {
  if (holder >= peer_slot_.size()) peer_slot_.resize(holder + 1, 0);
  if (!peer_slot_[holder]) {
    batch_.peers.push_back(scheduler_.worker(holder)->data_address);
    peers_.push_back(holder);
    peer_slot_[holder] = static_cast<std::uint32_t>(peers_.size());
  }
  return peer_slot_[holder] - 1;
}

}  // namespace treadle
